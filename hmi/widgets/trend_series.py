"""What one trend pen shows: live samples in a ring buffer, and history from the historian.

History (:class:`~hmi.widgets.trend_segment.HistorySegment`) is drawn *before* the live
data only: where live samples exist they are finer. Both are drawn truthfully in time
(:mod:`hmi.widgets.trend_shape`): a value holds until the next sample, setpoints and
discrete tags as steps, analog values joined only between close samples; a BAD sample or
bucket ends the line at its own time, and so does a bucket the historian marks ``gap``
(nothing recorded after it for a while: the historian was not running).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hmi.core.tag import DataType, Tag
from hmi.qt.format import format_value
from hmi.widgets.trend_buffer import FloatArray, RingBuffer
from hmi.widgets.trend_segment import HistorySegment, MalformedHistory
from hmi.widgets.trend_shape import clip, decimate, steps

__all__ = [
    "COLUMNS",
    "HistorySegment",
    "MalformedHistory",
    "TagSeries",
    "covers",
    "stepped",
    "write_csv",
]

#: a finer history is wanted once a bucket spans more than this many pixels (zoomed in)
COARSEST_PIXELS_PER_BUCKET = 2.0
#: the columns of a trend's CSV export (:func:`write_csv`)
COLUMNS = ("tag", "time", "epoch_s", "source", "value", "min", "max", "unit", "bad", "gap")


def stepped(tag: Tag | None) -> bool:
    """True when ``tag`` is drawn as steps: discrete (bool, integer) or written by people.

    A setpoint or a command holds exactly the value written until the next write: a line
    between two writes would show values it never had.
    """
    if tag is None:
        return False
    return tag.data_type not in (DataType.FLOAT32, DataType.FLOAT64) or tag.writable


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

    def __init__(self, capacity: int, tag: Tag | None = None) -> None:
        self.live = RingBuffer(capacity)
        self.history: HistorySegment | None = None
        #: when live data started to arrive (attach time); inf while not attached
        self.live_since = math.inf
        self.tag = tag

    @property
    def tag(self) -> Tag | None:
        """The tag's definition (unit, format, type), None until the trend is attached."""
        return self._tag

    @tag.setter
    def tag(self, tag: Tag | None) -> None:
        self._tag = tag
        #: drawn as steps (see :func:`stepped`)
        self.stepped = stepped(tag)

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

    def live_points(self, x0: float, x1: float, pixels: int) -> tuple[FloatArray, FloatArray]:
        """The live curve for a view of ``[x0, x1]`` on ``pixels`` columns: clipped,
        decimated by time when dense, with the corners of held values (new arrays)."""
        times, values = self.live.times, self.live.values
        keep = clip(times, values, x0, x1)
        x, y = decimate(times[keep], values[keep], x0, x1, pixels)
        return steps(x, y, self.stepped)

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
            x, y = np.append(x, self.live.times[0]), np.append(y, self.live.values[0])
        else:
            # Held no further than the history asked for: beyond it, nothing is known.
            end = min(start, self.history.end)
            if math.isfinite(end) and end > x[-1] and not np.isnan(y[-1]):
                x, y = np.append(x, end), np.append(y, y[-1])
        return steps(x, y, self.stepped)

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
        """The value in effect at time ``t``: live, else history's."""
        if len(self.live) and t >= self.live.times[0]:
            return self.live.value_at(t)
        if self.history is None:
            return None
        return self.history.value_at(t)

    def format(self, value: float | None, with_unit: bool = False) -> str:
        """``value`` as the operator reads it: the tag's format (and unit), ``----`` for none."""
        return format_value(value, self.tag, with_unit=with_unit)

    def rows(self, name: str, x0: float, x1: float) -> Iterator[tuple[Any, ...]]:
        """What this pen shows in ``[x0, x1]``, one tuple per :data:`COLUMNS` but ``time``.

        History rows are buckets (time = bucket start, value = average; the first may be
        the value in effect at the start of the history); live rows are samples. Values
        carry the tag's format. A BAD sample or a bucket with BAD samples is marked
        ``bad = 1``; a bucket after which nothing was recorded for a while ``gap = 1``.
        """
        unit = self.tag.unit if self.tag is not None else ""
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
                    self._cell(seg.avg[i] if counted else seg.last[i]),
                    self._cell(seg.min[i]) if counted else "",
                    self._cell(seg.max[i]) if counted else "",
                    unit,
                    int(seg.bad[i] > 0),
                    int(seg.gap[i] > 0),
                )
        times, values = self.live.times, self.live.values
        lo = int(np.searchsorted(times, x0, side="left"))
        hi = int(np.searchsorted(times, x1, side="right"))
        for t, v in zip(times[lo:hi].tolist(), values[lo:hi].tolist(), strict=True):
            bad = math.isnan(v)
            yield name, t, "live", self._cell(v), "", "", unit, int(bad), 0

    def _cell(self, value: float) -> str:
        if math.isnan(value):
            return ""
        # Numbers in a file: a bool's 0/1 (and a bucket's fraction of time on), not ON/OFF.
        tag = self.tag if self.tag is None or self.tag.data_type is not DataType.BOOL else None
        return format_value(float(value), tag)


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
