"""What one trend pen shows: live samples in a ring buffer, and history from the historian.

History arrives as the historian's ``buckets`` answer (docs/historian.md): one bucket per
pixel column with min/max/avg of its GOOD and UNCERTAIN samples and a count of BAD ones.
It is drawn as a min/max envelope (two points per bucket, as pyqtgraph's peak mode draws
live data) and *before* the live data only: where live samples exist they are finer.
A bucket holding BAD samples ends with a NaN, so a comm-loss period is a gap in history
just as a BAD live sample is a gap in the live curve; so does a bucket the historian marks
``gap`` (nothing recorded after it for a while: the historian was not running).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from hmi.widgets.trend_buffer import FloatArray, RingBuffer

IntArray = npt.NDArray[np.int64]
#: a finer history is wanted once a bucket spans more than this many pixels (zoomed in)
COARSEST_PIXELS_PER_BUCKET = 2.0
#: the columns of a trend's CSV export (:func:`write_csv`)
COLUMNS = ("tag", "time", "epoch_s", "source", "value", "min", "max", "bad", "gap")


class MalformedHistory(ValueError):
    """A history answer that is not the historian's ``buckets`` shape."""


@dataclass(frozen=True, slots=True)
class HistorySegment:
    """History of one tag over ``[start, end)`` at ``step`` seconds per bucket."""

    start: float
    end: float
    step: float
    t: FloatArray
    min: FloatArray
    max: FloatArray
    avg: FloatArray
    count: IntArray
    bad: IntArray
    #: 1 where no data follows the bucket (the historian recorded nothing for a while)
    gap: IntArray

    @classmethod
    def from_buckets(
        cls, answer: Mapping[str, Any], start: float, end: float, width: int
    ) -> HistorySegment:
        """Columns of a ``buckets(tag, start, end, width)`` answer; None values become NaN.

        ``gap`` may be missing (a historian older than it): then no bucket is marked.
        """
        try:
            columns = [np.asarray(answer[key], dtype=float) for key in ("t", "min", "max", "avg")]
            count = np.asarray(answer["count"], dtype=np.int64)
            bad = np.asarray(answer["bad"], dtype=np.int64)
            gap = np.asarray(answer.get("gap", np.zeros(len(count))), dtype=np.int64)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedHistory(f"not a buckets answer: {exc!r}") from exc
        if any(c.ndim != 1 or len(c) != len(count) for c in (*columns, bad, gap)):
            raise MalformedHistory("buckets columns differ in length")
        t, mn, mx, avg = columns
        step = (end - start) / max(1, width)
        return cls(start, end, step, t, mn, mx, avg, count, bad, gap)

    def ends(self, n: int) -> npt.NDArray[np.bool_]:
        """For the first ``n`` buckets: True where the line ends after the bucket."""
        return (self.bad[:n] > 0) | (self.gap[:n] > 0)

    def points(self, before: float = math.inf) -> tuple[FloatArray, FloatArray]:
        """The envelope to draw, gaps as NaN: buckets drawn (at their middle) before ``before``.

        Times stay increasing up to ``before``, as pyqtgraph's clipping needs.
        """
        n = int(np.searchsorted(self.t, before - self.step / 2, side="left"))
        x = np.repeat(self.t[:n] + self.step / 2, 3)
        y = np.column_stack([self.min[:n], self.max[:n], np.full(n, np.nan)]).ravel()
        # The third point of a bucket exists only to break the line after BAD samples or
        # before a stretch without data.
        keep = np.ones((n, 3), dtype=bool)
        keep[:, 2] = self.ends(n)
        mask = keep.ravel()
        return x[mask], y[mask]

    def value_at(self, t: float) -> float:
        """The value in effect at ``t``: its bucket's average, else the last bucket's.

        Store-on-change leaves buckets without rows (the value held); after a bucket with
        BAD samples or marked ``gap``, or before the first bucket, it is unknown (NaN).
        """
        i = int(np.searchsorted(self.t, t, side="right")) - 1
        if i < 0 or (t >= self.t[i] + self.step and (self.bad[i] > 0 or self.gap[i] > 0)):
            return math.nan
        return float(self.avg[i])


class Extent(Protocol):
    """A stretch of history asked for or held: ``[start, end)`` in ``step`` s buckets."""

    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def step(self) -> float: ...


def covers(have: Extent, start: float, end: float, spp: float) -> bool:
    """True when ``have`` shows ``[start, end)`` finely enough at ``spp`` s per pixel.

    A bucket of slack at each edge (the bucket grid is not aligned to the view), and
    buckets at most :data:`COARSEST_PIXELS_PER_BUCKET` pixels wide.
    """
    return (
        have.start <= start + have.step
        and have.end >= end - have.step
        and have.step <= COARSEST_PIXELS_PER_BUCKET * spp
    )


class TagSeries:
    """One pen: the live ring buffer, the newest history segment, and how they join."""

    def __init__(self, capacity: int) -> None:
        self.live = RingBuffer(capacity)
        self.history: HistorySegment | None = None
        #: when live data started to arrive (attach time); inf while not attached
        self.live_since = math.inf

    def live_start(self) -> float:
        """Where live data takes over from history."""
        if len(self.live):
            return min(float(self.live.times[0]), self.live_since)
        return self.live_since

    def missing(self, x0: float, x1: float, pixels: int) -> tuple[float, float, int] | None:
        """``(start, end, width)`` of history to ask for to show ``[x0, x1]``, or None.

        History is needed only before live data; ``width`` keeps the view's pixel density.
        """
        end = min(x1, self.live_start())
        if end <= x0 or pixels <= 0:
            return None
        spp = (x1 - x0) / pixels
        if self.history is not None and covers(self.history, x0, end, spp):
            return None
        return x0, end, max(1, math.ceil((end - x0) / spp))

    def history_points(self) -> tuple[FloatArray, FloatArray]:
        """History to draw, joined to the first live point so the line does not break.

        With no live point yet, the last stored value is drawn held up to where live data
        starts (at most to the end of the history held): the historian stores on change,
        so a quiet tag (a setpoint) has one row per heartbeat, which alone draws as dots.
        """
        if self.history is None:
            return np.empty(0), np.empty(0)
        start = self.live_start()
        x, y = self.history.points(before=start)
        if not len(x):
            return x, y
        if len(self.live):
            return np.append(x, self.live.times[0]), np.append(y, self.live.values[0])
        # Held no further than the history asked for: beyond it, nothing is known.
        end, held = min(start, self.history.end), self.history.value_at(x[-1])
        if math.isfinite(end) and end > x[-1] and not np.isnan(y[-1]) and not math.isnan(held):
            return np.append(x, end), np.append(y, held)
        return x, y

    def tail(self, now: float) -> tuple[float, float] | None:
        """``(time, value)`` of the last live sample when it holds up to ``now``, else None.

        A driver publishes on change: the last value stays in effect until the next
        sample, as long as it had a value (GOOD or UNCERTAIN). After a BAD sample (NaN)
        nothing is known, so nothing is held.
        """
        if not len(self.live):
            return None
        t, value = float(self.live.times[-1]), float(self.live.values[-1])
        if math.isnan(value) or not now > t:
            return None
        return t, value

    def value_at(self, t: float) -> float | None:
        """The value shown at time ``t``: live, else the history bucket's average."""
        if len(self.live) and t >= self.live.times[0]:
            return self.live.value_at(t)
        if self.history is None:
            return None
        return self.history.value_at(t)

    def rows(self, name: str, x0: float, x1: float) -> Iterator[tuple[Any, ...]]:
        """What this pen shows in ``[x0, x1]``: ``(tag, t, source, value, min, max, bad, gap)``.

        History rows are buckets (time = bucket start, value = average); live rows are
        samples. A BAD sample or a bucket with BAD samples is marked ``bad = 1``; a bucket
        after which nothing was recorded for a while (no data follows) ``gap = 1``.
        """
        seg = self.history
        if seg is not None:
            first = self.live_start()
            lo = int(np.searchsorted(seg.t, x0 - seg.step, side="right"))
            hi = int(np.searchsorted(seg.t, min(x1, first), side="left"))
            for i in range(lo, hi):
                counted = seg.count[i] > 0
                yield (
                    name,
                    float(seg.t[i]),
                    "history",
                    _cell(seg.avg[i]) if counted else "",
                    _cell(seg.min[i]) if counted else "",
                    _cell(seg.max[i]) if counted else "",
                    int(seg.bad[i] > 0),
                    int(seg.gap[i] > 0),
                )
        times, values = self.live.times, self.live.values
        lo = int(np.searchsorted(times, x0, side="left"))
        hi = int(np.searchsorted(times, x1, side="right"))
        for t, v in zip(times[lo:hi].tolist(), values[lo:hi].tolist(), strict=True):
            bad = math.isnan(v)
            yield name, t, "live", "" if bad else v, "", "", int(bad), 0


def _cell(value: float) -> float | str:
    return "" if math.isnan(value) else float(value)


def write_csv(path: Path | str, rows: Iterable[tuple[Any, ...]]) -> int:
    """Write :meth:`TagSeries.rows` to ``path`` as CSV (:data:`COLUMNS`); the row count.

    ``time`` is ISO 8601 in local time with its UTC offset (what the axis shows, and
    unambiguous); ``epoch_s`` is the same instant in POSIX seconds, for programs.
    """
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for tag, t, *rest in rows:
            when = datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds")
            writer.writerow([tag, when, f"{t:.3f}", *rest])
            count += 1
    return count
