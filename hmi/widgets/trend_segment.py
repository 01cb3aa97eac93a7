"""History of one trend pen: the historian's ``buckets`` answer, as arrays to draw and read.

One bucket per pixel column (docs/historian.md): min/max/avg of its rows with a value, a
count of BAD ones, and its first and last row (time and value). Drawn like live data
(:mod:`hmi.widgets.trend_shape`): per bucket its first row, its range at its last row's
time, and its last row, whose value then *holds* until the next bucket's first row
(stored on change: a bucket without rows is an unchanged value, not a ramp). The first
entry is the value in effect at the range's start (the row before it), drawn from the
start. The line ends at a BAD row's time and after a bucket the historian marks ``gap``
(nothing recorded after its last row: the historian was not running).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hmi.widgets.trend_buffer import FloatArray

IntArray = npt.NDArray[np.int64]


class MalformedHistory(ValueError):
    """A history answer that is not the historian's ``buckets`` shape."""


@dataclass(frozen=True, slots=True)
class HistorySegment:
    """History of one tag over ``[start, end)`` at ``step`` seconds per bucket.

    Columns per entry (bucket, or the value in effect at ``start`` first); values are NaN
    where there was none (BAD rows).
    """

    start: float
    end: float
    step: float
    t: FloatArray
    min: FloatArray
    max: FloatArray
    avg: FloatArray
    count: IntArray
    bad: IntArray
    #: 1 where no data follows the entry (the historian recorded nothing for a while)
    gap: IntArray
    #: value and time of the entry's first and last row; a time before ``t`` (the row
    #: before the range) is drawn at ``t``
    first: FloatArray
    last: FloatArray
    first_t: FloatArray
    last_t: FloatArray

    @classmethod
    def from_buckets(
        cls, answer: Mapping[str, Any], start: float, end: float, width: int
    ) -> HistorySegment:
        """Columns of a ``buckets(tag, start, end, width)`` answer; None values become NaN.

        An older historian's answer may lack ``gap`` (then no entry is marked) and the
        first and last rows (then each bucket is read as its average, at its middle).
        """
        step = (end - start) / max(1, width)
        try:
            t, mn, mx, avg = (_floats(answer[key]) for key in ("t", "min", "max", "avg"))
            count = np.asarray(answer["count"], dtype=np.int64)
            bad = np.asarray(answer["bad"], dtype=np.int64)
            gap = np.asarray(answer.get("gap", np.zeros(len(count))), dtype=np.int64)
            middle = t + step / 2
            first = _floats(answer.get("first", avg))
            last = _floats(answer.get("last", avg))
            first_t = _floats(answer.get("first_t", middle))
            last_t = _floats(answer.get("last_t", middle))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedHistory(f"not a buckets answer: {exc!r}") from exc
        columns = (t, mn, mx, avg, bad, gap, first, last, first_t, last_t)
        if any(c.ndim != 1 or len(c) != len(count) for c in columns):
            raise MalformedHistory("buckets columns differ in length")
        # A row before the range is in effect from its start: drawn there.
        first_t, last_t = np.maximum(first_t, t), np.maximum(last_t, t)
        return cls(start, end, step, t, mn, mx, avg, count, bad, gap, first, last, first_t, last_t)

    def points(self, before: float = math.inf) -> tuple[FloatArray, FloatArray]:
        """What to draw before ``before`` (times increasing), gaps as NaN, corners not yet.

        Per entry: first row, range (ordered to meet the last row), last row, and a NaN
        after it when the historian marks ``gap``. Pass the result through
        :func:`hmi.widgets.trend_shape.steps` to hold each last value until the next row.
        """
        n = int(np.searchsorted(self.first_t, before, side="left"))
        falling = self.first[:n] > self.last[:n]
        low, high = self.min[:n], self.max[:n]
        x = np.empty((n, 5))
        y = np.empty((n, 5))
        x[:, 0] = self.first_t[:n]
        x[:, 1:] = self.last_t[:n, np.newaxis]
        y[:, 0] = self.first[:n]
        y[:, 1] = np.where(falling, high, low)
        y[:, 2] = np.where(falling, low, high)
        y[:, 3] = self.last[:n]
        y[:, 4] = np.nan  # ends the line; kept only after an entry marked ``gap``
        keep = np.ones((n, 5), dtype=bool)
        keep[:, 4] = self.gap[:n] > 0
        x, y = x[keep], y[keep]
        inside = x < before  # a bucket may reach past where live data takes over
        return x[inside], y[inside]

    def value_at(self, t: float) -> float:
        """The value in effect at ``t``: within a bucket's rows its average, after them its
        last value (held until the next row); NaN before the first entry, after a BAD row
        and after an entry marked ``gap``."""
        i = int(np.searchsorted(self.first_t, t, side="right")) - 1
        if i < 0:
            return math.nan
        if t < self.last_t[i]:
            return float(self.avg[i]) if self.count[i] > 0 else math.nan
        if t > self.last_t[i] and self.gap[i] > 0:
            return math.nan
        return float(self.last[i])


def _floats(column: Any) -> FloatArray:
    """A column as floats: None (no value) and texts (not plotted) as NaN."""
    return np.asarray([math.nan if v is None or isinstance(v, str) else v for v in column], float)
