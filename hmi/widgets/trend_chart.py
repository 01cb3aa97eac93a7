"""The plot of a Trend: stacked rows (one per unit), per pen a live curve, a history curve
and a held tail; a cursor across the rows.

This module (pyqtgraph, numpy) is imported when the first Trend is built, not when
``hmi.widgets`` is: screens without trends, Designer and the command line start faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from hmi.core.tag import Tag
from hmi.widgets.trend_rows import BACKGROUND, GRID_ALPHA, Group, Row, group_pens, left_axis_width
from hmi.widgets.trend_series import TagSeries, write_csv

__all__ = ["BACKGROUND", "GRID_ALPHA", "PENS", "TrendChart"]

#: muted, distinguishable pens for a grey background (colour is for alarms)
PENS = ("#0d2b45", "#7a4b00", "#2f6b3a", "#6b2d8f", "#8a1c1c", "#3d5a80")


class HoldCurve(pg.PlotDataItem):  # type: ignore[misc]
    """A PlotDataItem that can skip the work a scroll triggers when new data follows.

    A live trend scrolls and sets new data in the same frame; both would make the curve
    compute what it shows. While ``hold`` is set a range change does nothing, and the
    data set right after does that work once, for the new view.
    """

    hold = False

    def viewRangeChanged(self, *args: Any, **kwargs: Any) -> None:
        """pyqtgraph's handler, unless the caller sets new data right after."""
        if not self.hold:
            super().viewRangeChanged(*args, **kwargs)


class LiveCurve(HoldCurve):
    """The live samples of one pen, as drawn for the view it is in.

    It clips to the view, decimates by time and inserts the corners of held values
    (:meth:`TagSeries.live_points`) whenever the data or the time range changes, and
    hands pyqtgraph only the few points that result: pyqtgraph's own peak downsampling
    assumes evenly spaced samples (see :mod:`hmi.widgets.trend_shape`).
    """

    def __init__(self, series: TagSeries, pixels: Callable[[], int], **opts: Any) -> None:
        super().__init__(**opts)
        self.series = series
        self._pixels = pixels

    def refresh(self) -> None:
        """Recompute the points shown from the series, for the current view."""
        view = self.getViewBox()
        if not isinstance(view, pg.ViewBox):
            return  # not in a plot yet
        (x0, x1), _ = view.viewRange()
        self.setData(*self.series.live_points(float(x0), float(x1), self._pixels()))

    def viewRangeChanged(self, vb: Any = None, ranges: Any = None, changed: Any = None) -> None:
        """A new time range shows other points (a Y change alone does not)."""
        if self.hold:
            return
        super().viewRangeChanged(vb, ranges, changed)
        if changed is None or changed[0]:
            self.refresh()


class TrendChart(QObject):
    """The pyqtgraph side of a Trend, built into ``parent``.

    Pens are grouped into stacked rows by unit (:mod:`hmi.widgets.trend_rows`), their
    time axes linked to the first row's. Each pen has three items: the live curve, the
    history curve (buckets from the historian) and the *tail*: one segment holding the
    last live value from its sample up to now. Drivers publish on change, so a quiet
    tag's last sample can be minutes old; the tail shows that the value still holds, and
    moving it costs a two-point ``setData``, not a new array of the live data.
    """

    #: the time range shown changed (the view scrolled, or the operator panned or zoomed)
    x_range_changed = Signal()
    #: the plot area changed size (a different number of pixel columns)
    resized = Signal()
    #: the operator panned or zoomed with the mouse
    range_changed_manually = Signal()
    #: the cursor was moved (by the operator or by :meth:`set_cursor`)
    cursor_moved = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.plot = pg.GraphicsLayoutWidget(parent)
        self.plot.setBackground(BACKGROUND)
        self.plot.ci.setContentsMargins(2, 4, 8, 2)
        self.plot.ci.setSpacing(0)
        self.series: dict[str, TagSeries] = {}
        self.rows: list[Row] = []
        self._names: list[str] = []
        self._tags: dict[str, Tag | None] = {}
        self._groups: list[Group] = []
        self._curves: dict[str, tuple[LiveCurve, HoldCurve, pg.PlotDataItem]] = {}
        #: what each history curve shows now, to redraw it only when that changes
        self._history_keys: dict[str, tuple[Any, ...]] = {}
        #: what each tail shows: ``(sample time, value, now)``, or None (nothing)
        self._tails: dict[str, tuple[float, ...] | None] = {}
        self._menu: list[tuple[str, Callable[[], None]]] = []
        self._cursor_shown = False
        self._cursor_t = 0.0
        self._axis_width = left_axis_width()
        self._layout()

    # -- pens and rows -------------------------------------------------------------------
    def set_tags(self, names: list[str], capacity: int) -> None:
        """Show ``names`` (new ones start empty; pens of names kept keep their data)."""
        self._names = list(names)
        for name in list(self.series):
            if name not in names:
                del self.series[name]
        for name in names:
            if name not in self.series:
                self.series[name] = TagSeries(capacity, self._tags.get(name))
        self._layout()

    def set_definitions(self, tags: Mapping[str, Tag | None]) -> None:
        """The tags' definitions (unit, type, format): rows by unit, steps, formats."""
        self._tags = dict(tags)
        for name, series in self.series.items():
            series.tag = self._tags.get(name)
        if group_pens(self._names, self._tags) != self._groups:
            self._layout()

    def set_capacity(self, capacity: int) -> None:
        """Keep ``capacity`` live points per pen (the live points held are dropped)."""
        for name, series in self.series.items():
            fresh = TagSeries(capacity, series.tag)
            fresh.history, fresh.live_since = series.history, series.live_since
            self.series[name] = fresh
        self._layout()

    def add_menu_action(self, text: str, slot: Callable[[], None]) -> None:
        """Add an entry to every row's right-click menu."""
        self._menu.append((text, slot))
        for row in self.rows:
            if row.viewbox.menu is not None:
                row.viewbox.menu.addAction(text, slot)

    def _layout(self) -> None:
        """Build the rows and the pens' curves (rare: tags or their definitions changed)."""
        x_range = self.view_range() if self.rows else None
        layout = self.plot.ci
        for index in range(len(self.rows)):
            layout.layout.setRowStretchFactor(index, 0)  # no height kept for rows gone
        layout.clear()
        self.rows = []
        self._curves.clear()
        self._history_keys.clear()
        self._tails.clear()
        self._groups = group_pens(self._names, self._tags)
        for index, group in enumerate(self._groups):
            row = Row(group, index == len(self._groups) - 1, self._axis_width)
            layout.addItem(row.item, row=index, col=0)
            # An OFF/ON row needs less height than a measurement's
            layout.layout.setRowStretchFactor(index, 1 if group.discrete else 3)
            if self.rows:
                row.item.setXLink(self.rows[0].item)
            for text, slot in self._menu:
                if row.viewbox.menu is not None:
                    row.viewbox.menu.addAction(text, slot)
            row.viewbox.sigRangeChangedManually.connect(
                lambda *_: self.range_changed_manually.emit()
            )
            row.cursor.sigPositionChanged.connect(self._on_cursor_dragged)
            row.cursor.setVisible(self._cursor_shown)
            row.cursor.setValue(self._cursor_t)
            self.rows.append(row)
        master = self.rows[0].viewbox
        master.sigXRangeChanged.connect(lambda *_: self.x_range_changed.emit())
        master.sigResized.connect(lambda *_: self._on_resized())
        for row in self.rows:
            for name in row.group.names:
                self._add_pen(row, name)
        if x_range is not None:
            self.set_view(*x_range)

    def _add_pen(self, row: Row, name: str) -> None:
        pen = pg.mkPen(PENS[self._names.index(name) % len(PENS)], width=2)
        series = self.series[name]
        live = LiveCurve(series, self.pixels, name=name, pen=pen, connect="finite")
        history = HoldCurve(pen=pen, connect="finite")  # unnamed: one legend entry
        tail = pg.PlotDataItem(pen=pen)
        for curve in (history, live):
            curve.setDownsampling(auto=False)  # decimated already (by time or by bucket)
            curve.setClipToView(curve is history)  # the live curve clips itself
            row.item.addItem(curve)
        # Its value is the live curve's last: it never widens the y range.
        tail.setDownsampling(auto=False)
        tail.setClipToView(False)  # two points: a view change costs it nothing
        row.item.addItem(tail, ignoreBounds=True)
        self._curves[name] = (live, history, tail)

    def _on_resized(self) -> None:
        for live, _, _ in self._curves.values():
            live.refresh()  # as many columns as the plot has pixels
        self.resized.emit()

    def restore_autoscale(self) -> None:
        """Every row's Y fits its data again (after the operator panned or zoomed)."""
        for row in self.rows:
            row.autoscale()

    def row_of(self, name: str) -> Row:
        """The row (Y axis) ``name`` is drawn in."""
        return next(row for row in self.rows if name in row.group.names)

    @property
    def viewbox(self) -> pg.ViewBox:
        """The first row's view box; every row's time axis is linked to it."""
        return self.rows[0].viewbox

    # -- drawing -------------------------------------------------------------------------
    def draw(self, x_range: tuple[float, float] | None = None, now: float | None = None) -> None:
        """Hand every pen's data to its curves, after moving the view to ``x_range``.

        With ``now``, tails hold each pen's last value up to it (:meth:`draw_tails`).
        """
        curves = [c for (live, history, _) in self._curves.values() for c in (live, history)]
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
            live.refresh()
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
        return _points(self._curves[name][2])

    def live(self, name: str) -> tuple[list[float], list[float]]:
        """The points of ``name``'s live curve as drawn (clipped, decimated, corners)."""
        return _points(self._curves[name][0])

    def history(self, name: str) -> tuple[list[float], list[float]]:
        """The points of ``name``'s history curve as drawn (NaN: the line ends)."""
        return _points(self._curves[name][1])

    def view_range(self) -> tuple[float, float]:
        """The time range shown."""
        (x0, x1), _ = self.viewbox.viewRange()
        return float(x0), float(x1)

    def set_view(self, x0: float, x1: float) -> None:
        """Show times ``[x0, x1]`` (every row: their time axes are linked)."""
        self.viewbox.setXRange(x0, x1, padding=0)

    def pixels(self) -> int:
        """Width of the plot area in pixels (an estimate before the first layout)."""
        width = self.viewbox.width()
        if not width or width < 1 or not math.isfinite(width):
            width = self.plot.width() - self._axis_width
        return max(1, int(width))

    # -- cursor --------------------------------------------------------------------------
    def set_cursor_visible(self, shown: bool) -> None:
        """Show or hide the cursor line (in every row)."""
        self._cursor_shown = shown
        for row in self.rows:
            row.cursor.setVisible(shown)
        self.cursor_moved.emit()

    def cursor_visible(self) -> bool:
        """True while the cursor is shown."""
        return self._cursor_shown

    def set_cursor(self, t: float) -> None:
        """Put the cursor at time ``t`` (every row)."""
        self._cursor_t = t
        for row in self.rows:
            if row.cursor.value() != t:
                row.cursor.setValue(t)
        self.cursor_moved.emit()

    def cursor(self) -> float:
        """The cursor's time."""
        return self._cursor_t

    def _on_cursor_dragged(self, line: pg.InfiniteLine) -> None:
        t = float(line.value())
        if t != self._cursor_t:
            self.set_cursor(t)  # the other rows follow

    # -- reading -------------------------------------------------------------------------
    def readout(self, t: float) -> list[tuple[str, float | None]]:
        """Every pen's value at time ``t``."""
        return [(name, self.series[name].value_at(t)) for name in self._names]

    def rows_in(self, x0: float, x1: float) -> Iterator[tuple[Any, ...]]:
        """What every pen shows in ``[x0, x1]`` (see ``trend_series.COLUMNS``)."""
        for name in self._names:
            yield from self.series[name].rows(name, x0, x1)

    def export_csv(self, path: Path | str) -> int:
        """Write what the view shows (every pen) to ``path`` as CSV; the row count."""
        return write_csv(path, self.rows_in(*self.view_range()))


def _points(curve: pg.PlotDataItem) -> tuple[list[float], list[float]]:
    x, y = curve.getData()
    if x is None:
        return [], []
    return [float(v) for v in x], [float(v) for v in y]
