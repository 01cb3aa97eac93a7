"""The points a trend pen draws, truthful in time: held values as steps, decimation by time.

Samples arrive on change (drivers publish on change, the historian stores on change), so a
value holds until the next sample. A straight line between two samples minutes apart
would draw a ramp that starts long before the change (a setpoint step as a slope, a pump
trip as flow falling before the trip). :func:`steps` therefore inserts the *corner* of each
step: the old value held up to the new sample's time, then a vertical. Setpoints and
discrete tags always step; analog measurements are joined by a line only between samples
at most :data:`JOIN_SECONDS` apart (consecutive polls of a changing value), and step
otherwise. A BAD sample (NaN) ends the line at its own time: the value before it held
until then.

:func:`decimate` thins dense data to at most four points per pixel column *by time*
(first, min, max, last of each column: "M4"), placed at real sample times. pyqtgraph's
peak mode bins a fixed *count* of points and draws each bin at one sample's time; it
assumes evenly spaced samples, and with on-change data a bin can span minutes, drawing a
step minutes early.
"""

from __future__ import annotations

import numpy as np

from hmi.widgets.trend_buffer import FloatArray

#: analog samples at most this far apart are joined by a line; further apart, the first
#: holds until the second (its value did not move by more than the deadband meanwhile).
#: Polls are 0.2 s (fast) and 1 s (normal) in the demo plant: one missed publish still
#: joins, a quiet stretch does not.
JOIN_SECONDS = 2.0
#: a pen is decimated when it has more than this many points per pixel column in view
POINTS_PER_PIXEL = 4


def clip(times: FloatArray, values: FloatArray, x0: float, x1: float) -> slice:
    """The points of ``[x0, x1]`` plus one on each side, so lines and held values reach
    the edges (the point before ``x0`` is the value in effect at ``x0``)."""
    n = len(times)
    lo = max(0, int(np.searchsorted(times, x0, side="left")) - 1)
    hi = min(n, int(np.searchsorted(times, x1, side="right")) + 1)
    return slice(lo, max(lo, hi))


def decimate(
    times: FloatArray, values: FloatArray, x0: float, x1: float, pixels: int
) -> tuple[FloatArray, FloatArray]:
    """At most four points per pixel column of ``[x0, x1)`` (new arrays, never views).

    Points before ``x0`` and from ``x1`` on get columns of their own. Per column: its
    first point, then its minimum and maximum (in the order that meets its last point)
    at its last point's time, then its last point. A change inside a column is drawn in
    that column and never before its first sample; a NaN (BAD) in a column breaks the
    line there. Times must be increasing.
    """
    n = len(times)
    if n <= POINTS_PER_PIXEL * max(1, pixels) or x1 <= x0:
        return times.copy(), values.copy()
    edges = x0 + (x1 - x0) * (np.arange(pixels + 1) / pixels)
    cuts = np.searchsorted(times, edges, side="left")
    starts = np.unique(np.concatenate(([0], cuts)))
    starts = starts[starts < n]
    ends = np.append(starts[1:], n) - 1
    # minimum/maximum (not fmin/fmax): a NaN makes them NaN, so a BAD sample breaks the
    # line inside its column instead of vanishing into the column's range.
    low = np.minimum.reduceat(values, starts)
    high = np.maximum.reduceat(values, starts)
    first, last = values[starts], values[ends]
    falling = first > last
    x = np.empty((len(starts), 4))
    y = np.empty((len(starts), 4))
    x[:, 0] = times[starts]
    x[:, 1:] = times[ends, np.newaxis]
    y[:, 0] = first
    y[:, 1] = np.where(falling, high, low)
    y[:, 2] = np.where(falling, low, high)
    y[:, 3] = last
    return x.ravel(), y.ravel()


def steps(
    x: FloatArray, y: FloatArray, stepped: bool, join: float = JOIN_SECONDS
) -> tuple[FloatArray, FloatArray]:
    """``(x, y)`` with the corner of every held value inserted (see the module docstring).

    ``stepped``: every change is a step (setpoints, discrete tags); otherwise only
    changes after more than ``join`` seconds without a sample, and every BAD sample.
    """
    if len(x) < 2:
        return x, y
    before, after = y[:-1], y[1:]
    # NaN != anything: a finite value followed by a BAD sample is held up to it
    held = np.isfinite(before) & (before != after)
    if not stepped:
        held &= (np.diff(x) > join) | np.isnan(after)
    at = np.flatnonzero(held) + 1
    if not len(at):
        return x, y
    return np.insert(x, at, x[at]), np.insert(y, at, y[at - 1])
