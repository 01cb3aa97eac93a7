"""A fixed-size ring buffer of (time, value) that reads as one contiguous array.

Each point is written twice, at ``i`` and ``i + capacity``; the newest ``n`` points are
then always the slice ``[start, start + n)``: no ``np.roll``, no copy per sample, and a
zero-copy view for plotting.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class RingBuffer:
    """The newest ``capacity`` points of one curve, oldest first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._t = np.full(2 * capacity, np.nan)
        self._v = np.full(2 * capacity, np.nan)
        self._written = 0

    def __len__(self) -> int:
        return min(self._written, self.capacity)

    def append(self, t: float, v: float) -> None:
        """Add one point (times should not go backwards: the plot bisects them)."""
        i = self._written % self.capacity
        self._t[i] = self._t[i + self.capacity] = t
        self._v[i] = self._v[i + self.capacity] = v
        self._written += 1

    def extend(self, times: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Add many points at once (vectorised; only the newest ``capacity`` can stay)."""
        t = np.asarray(times, float)[-self.capacity :]
        v = np.asarray(values, float)[-self.capacity :]
        if len(t) != len(v):
            raise ValueError("times and values differ in length")
        cap, i, k = self.capacity, self._written % self.capacity, len(t)
        head = min(k, cap - i)  # up to the end of the first half, then wrap to 0
        for dst in (i, i + cap):
            self._t[dst : dst + head] = t[:head]
            self._v[dst : dst + head] = v[:head]
        for dst in (0, cap):
            self._t[dst : dst + k - head] = t[head:]
            self._v[dst : dst + k - head] = v[head:]
        self._written += k

    def clear(self) -> None:
        """Forget every point."""
        self._written = 0

    def _window(self) -> slice:
        n = len(self)
        start = (self._written - n) % self.capacity
        return slice(start, start + n)

    @property
    def times(self) -> FloatArray:
        """Times of the points held, oldest first (a view: do not keep it across appends)."""
        return self._t[self._window()]

    @property
    def values(self) -> FloatArray:
        """Values of the points held, oldest first (a view)."""
        return self._v[self._window()]

    def value_at(self, t: float) -> float | None:
        """The value in effect at time ``t`` (the last point at or before it)."""
        times = self.times
        i = int(np.searchsorted(times, t, side="right")) - 1
        if i < 0 or len(times) == 0:
            return None
        return float(self.values[i])
