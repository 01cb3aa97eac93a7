"""The plot of a Trend: per pen a live curve, a history curve and a held tail; a cursor.

This module (pyqtgraph, numpy) is imported when the first Trend is built, not when
``hmi.widgets`` is: screens without trends, Designer and the command line start faster.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from hmi.widgets.trend_series import TagSeries, write_csv

#: muted, distinguishable pens for a grey background (colour is for alarms)
PENS = ("#0d2b45", "#7a4b00", "#2f6b3a", "#6b2d8f", "#8a1c1c", "#3d5a80")
BACKGROUND = "#e4e4e4"
AXIS = "#3a3a3a"
#: grid lines: the axis colour at this opacity over the background
GRID_ALPHA = 0.25


class TrendCurve(pg.PlotDataItem):  # type: ignore[misc]
    """A PlotDataItem that can skip the re-clip and re-downsample a scroll triggers.

    A live trend scrolls and sets new data in the same frame; both make pyqtgraph clip
    and peak-downsample every point again. While ``hold`` is set a range change does
    nothing, and the :meth:`setData` that follows does that work once, for the new view.
    """

    hold = False

    def viewRangeChanged(self, *args: Any, **kwargs: Any) -> None:
        """pyqtgraph's handler, unless the caller sets new data right after."""
        if not self.hold:
            super().viewRangeChanged(*args, **kwargs)


class TrendChart:
    """The pyqtgraph side of a Trend, built into ``parent``.

    Each pen has three items: the live curve (every sample, peak-downsampled and clipped),
    the history curve (buckets from the historian) and the *tail*: one segment holding the
    last live value from its sample up to now. Drivers publish on change, so a quiet tag's
    last sample can be minutes old; the tail shows that the value still holds, and moving
    it costs a two-point ``setData``, not a new array of the live data.
    """

    def __init__(self, parent: QWidget) -> None:
        self.plot = pg.PlotWidget(parent, axisItems={"bottom": pg.DateAxisItem()})
        self.plot.setBackground(BACKGROUND)
        item = self.plot.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        for axis in ("left", "bottom"):
            item.getAxis(axis).setPen(pg.mkPen(AXIS))
            item.getAxis(axis).setTextPen(pg.mkPen("#1a1a1a"))
        item.showGrid(x=True, y=True, alpha=GRID_ALPHA)
        self.legend = item.addLegend(offset=(8, 8), labelTextColor="#1a1a1a")
        self.cursor_line = pg.InfiniteLine(
            angle=90, movable=True, pen=pg.mkPen(AXIS, style=Qt.PenStyle.DashLine)
        )
        self.cursor_line.setVisible(False)
        item.addItem(self.cursor_line, ignoreBounds=True)
        self.viewbox = item.getViewBox()
        self.series: dict[str, TagSeries] = {}
        self._curves: dict[str, tuple[TrendCurve, TrendCurve, pg.PlotDataItem]] = {}
        #: what each history curve shows now, to redraw it only when that changes
        self._history_keys: dict[str, tuple[Any, ...]] = {}
        #: what each tail shows: ``(sample time, value, now)``, or None (nothing)
        self._tails: dict[str, tuple[float, ...] | None] = {}

    # -- pens ----------------------------------------------------------------------------
    def set_tags(self, names: list[str], capacity: int) -> None:
        """Show ``names`` (new ones start empty; pens of names kept keep their data)."""
        item = self.plot.getPlotItem()
        for name in list(self._curves):
            if name not in names:
                for curve in self._curves.pop(name):
                    item.removeItem(curve)
                self._tails.pop(name, None)
                self.series.pop(name, None)
                self._history_keys.pop(name, None)
        for index, name in enumerate(names):
            if name in self._curves:
                continue
            self.series[name] = TagSeries(capacity)
            pen = pg.mkPen(PENS[index % len(PENS)], width=2)
            live = TrendCurve(name=name, pen=pen, connect="finite")
            history = TrendCurve(pen=pen, connect="finite")  # unnamed: one legend entry
            tail = pg.PlotDataItem(pen=pen)
            for curve in (history, live):
                item.addItem(curve)
            # Its value is the live curve's last: it never widens the y range.
            item.addItem(tail, ignoreBounds=True)
            live.setDownsampling(auto=True, method="peak")
            # History is bucketed at the view's pixel width already: nothing to thin out.
            history.setDownsampling(auto=False)
            tail.setDownsampling(auto=False)
            for curve in (history, live):
                curve.setClipToView(True)
            tail.setClipToView(False)  # two points: a view change costs it nothing
            self._curves[name] = (live, history, tail)

    def set_capacity(self, capacity: int) -> None:
        """Keep ``capacity`` live points per pen (the live points held are dropped)."""
        for name, series in self.series.items():
            history, since = series.history, series.live_since
            self.series[name] = fresh = TagSeries(capacity)
            fresh.history, fresh.live_since = history, since
        self._history_keys.clear()
        self._tails.clear()

    # -- drawing -------------------------------------------------------------------------
    def draw(self, x_range: tuple[float, float] | None = None, now: float | None = None) -> None:
        """Hand every pen's data to its curves, after moving the view to ``x_range``.

        With ``now``, tails hold each pen's last value up to it (:meth:`draw_tails`).
        """
        curves = [
            curve for (live, history, _) in self._curves.values() for curve in (live, history)
        ]
        if x_range is not None:
            for curve in curves:
                curve.hold = True
            try:
                self.set_view(*x_range)
            finally:
                for curve in curves:
                    curve.hold = False
        for name, (live, history, _) in self._curves.items():
            series = self.series[name]
            # Copies: the ring's views would change under pyqtgraph as the ring wraps.
            live.setData(series.live.times.copy(), series.live.values.copy())
            key = (id(series.history), series.live_start(), len(series.live) > 0)
            if key != self._history_keys.get(name) or x_range is not None:
                self._history_keys[name] = key
                history.setData(*series.history_points())
        if now is not None:
            self.draw_tails(now)

    def draw_tails(self, now: float) -> None:
        """Hold each pen's last live value up to ``now`` (none after a BAD sample)."""
        for name, (_, _, tail) in self._curves.items():
            held = self.series[name].tail(now)
            key = None if held is None else (*held, now)
            if key != self._tails.get(name, ()):
                self._tails[name] = key
                if held is None:
                    tail.setData([], [])
                else:
                    t, value = held
                    tail.setData([t, now], [value, value])

    def tail(self, name: str) -> tuple[list[float], list[float]]:
        """The points of ``name``'s tail as drawn: ``([t, now], [value] * 2)`` or empty."""
        x, y = self._curves[name][2].getData()
        if x is None:
            return [], []
        return [float(v) for v in x], [float(v) for v in y]

    def view_range(self) -> tuple[float, float]:
        """The time range shown."""
        (x0, x1), _ = self.viewbox.viewRange()
        return float(x0), float(x1)

    def set_view(self, x0: float, x1: float) -> None:
        """Show times ``[x0, x1]``."""
        self.viewbox.setXRange(x0, x1, padding=0)

    def pixels(self) -> int:
        """Width of the plot area in pixels (an estimate before the first layout)."""
        width = self.viewbox.width()
        if not width or width < 1 or not math.isfinite(width):
            width = self.plot.width()
        return max(1, int(width))

    # -- reading -------------------------------------------------------------------------
    def readout(self, t: float) -> list[tuple[str, float | None]]:
        """Every pen's value at time ``t``."""
        return [(name, series.value_at(t)) for name, series in self.series.items()]

    def rows(self, x0: float, x1: float) -> Iterator[tuple[Any, ...]]:
        """What every pen shows in ``[x0, x1]`` (see ``trend_series.COLUMNS``)."""
        for name, series in self.series.items():
            yield from series.rows(name, x0, x1)

    def export_csv(self, path: Path | str) -> int:
        """Write what the view shows (every pen) to ``path`` as CSV; the row count."""
        return write_csv(path, self.rows(*self.view_range()))
