"""The stacked plots of a trend: one row per engineering unit, time axes linked and aligned.

°C, kW and % on one axis make two of them unreadable, so every unit gets its own Y axis.
Stacked plots rather than several Y axes over one plot: pyqtgraph does stacked plots well
(a GraphicsLayout of PlotItems with linked X: each row keeps its own autorange, mouse pan
and zoom, legend, grid and clipping), whereas extra axes over one plot need extra
ViewBoxes whose geometry must be synchronised by hand, and which the mouse, the autorange
button and the grid do not reach. Rows get equal height and left axes of one fixed width,
so the time axes of the rows, and of trends stacked on a screen, line up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

from hmi.core.tag import DataType, Tag

BACKGROUND = "#e4e4e4"
AXIS = "#3a3a3a"
TEXT = "#1a1a1a"
#: grid lines: the axis colour at this opacity over the background
GRID_ALPHA = 0.25
#: a bool row's fixed range: OFF and ON with a margin, so a held line is never on the frame
DISCRETE_RANGE = (-0.2, 1.2)
#: the widest tick label a left axis has room for
TICK_SAMPLE = "-00000.0"


@dataclass(frozen=True, slots=True)
class Group:
    """Pens sharing one Y axis: ``title`` (the unit) and whether it is a bool row."""

    key: str
    title: str
    discrete: bool
    names: tuple[str, ...]


def group_pens(names: Iterable[str], tags: Mapping[str, Tag | None]) -> list[Group]:
    """One group per unit, in the order pens are listed; bools (no unit) share a row.

    Before the tags are known (no session yet) every pen is in one untitled group.
    """
    keys: dict[str, list[str]] = {}
    titles: dict[str, tuple[str, bool]] = {}
    for name in names:
        tag = tags.get(name)
        if tag is None:
            key, title, discrete = "", "", False
        elif tag.unit:
            key, title, discrete = f"unit:{tag.unit}", tag.unit, False
        elif tag.data_type is DataType.BOOL:
            key, title, discrete = "bool", "state", True
        else:
            key, title, discrete = "plain", "", False
        keys.setdefault(key, []).append(name)
        titles[key] = (title, discrete)
    groups = []
    for key, members in keys.items():
        title, discrete = titles[key]
        if key == "plain":  # no unit: the points' own names say what the axis is
            title = ", ".join(name.rsplit("/", 1)[-1] for name in members)
        groups.append(Group(key, title, discrete, tuple(members)))
    return groups or [Group("", "", False, ())]


def left_axis_width() -> int:
    """Pixels of every trend's left axis: room for the title and :data:`TICK_SAMPLE`."""
    app = QApplication.instance()
    font = app.font() if isinstance(app, QApplication) else None
    if font is None:
        return 72
    metrics = QFontMetrics(font)
    return metrics.horizontalAdvance(TICK_SAMPLE) + metrics.height() + 16


class Row:
    """One stacked plot: a PlotItem with its legend and its part of the cursor."""

    def __init__(self, group: Group, last: bool, axis_width: int) -> None:
        self.group = group
        self.item = pg.PlotItem(axisItems={"bottom": pg.DateAxisItem()})
        item = self.item
        item.setDownsampling(auto=False)  # the live curve decimates by time itself
        item.setClipToView(True)
        item.hideButtons()  # Live restores autoscale: one way, not two
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(AXIS))
            axis.setTextPen(pg.mkPen(TEXT))
        left = item.getAxis("left")
        left.setWidth(axis_width)
        left.setLabel(group.title, color=TEXT)
        left.enableAutoSIPrefix(False)
        if not last:
            # Times are read on the bottom row; the others keep the grid, not the labels.
            item.getAxis("bottom").setStyle(showValues=False)
            item.getAxis("bottom").setHeight(6)
        item.showGrid(x=True, y=True, alpha=GRID_ALPHA)
        self.legend = item.addLegend(
            offset=(8, 4), labelTextColor=TEXT, brush=pg.mkBrush(228, 228, 228, 190)
        )
        self.cursor = pg.InfiniteLine(
            angle=90, movable=True, pen=pg.mkPen(AXIS, style=Qt.PenStyle.DashLine)
        )
        self.cursor.setVisible(False)
        item.addItem(self.cursor, ignoreBounds=True)
        self.viewbox: pg.ViewBox = item.getViewBox()
        # X is set by the trend (live scrolling, pan and zoom), never by the data.
        self.viewbox.enableAutoRange(x=False)
        if group.discrete:
            left.setTicks([[(0.0, "OFF"), (1.0, "ON")]])
            self.viewbox.setMouseEnabled(y=False)
        self.autoscale()

    def autoscale(self) -> None:
        """Y fits the data again (a bool row: its fixed OFF/ON range)."""
        if self.group.discrete:
            self.viewbox.setYRange(*DISCRETE_RANGE, padding=0)
        else:
            self.viewbox.enableAutoRange(axis=pg.ViewBox.YAxis)

    def title(self) -> str:
        """The Y axis title as shown."""
        label = self.item.getAxis("left").label
        return str(label.toPlainText()).strip()
