"""AlarmBanner: the most important unacknowledged alarm, one line, always in view."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QMouseEvent, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from hmi.core.sample import Sample
from hmi.qt.alarms import AlarmItem, AlarmSource, LimitAlarms
from hmi.qt.context import HmiContext
from hmi.qt.link import TagLink
from hmi.qt.look import PANEL, TEXT, paint_alarm_mark
from hmi.qt.registry import register_widget


@register_widget(
    "The most important unacknowledged alarm (click: acknowledge)", width=600, height=30
)
class AlarmBanner(QWidget):
    """Priority shape, time, tag and message of the top alarm, and how many more.

    Reads an :class:`~hmi.qt.alarms.AlarmSource`; until the alarm engine exists the
    placeholder :class:`~hmi.qt.alarms.LimitAlarms` judges the tags' limits. Clicking
    acknowledges the alarm shown.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source: AlarmSource | None = None
        self._items: list[AlarmItem] = []
        self.tag_link = TagLink(self, self._names, self._on_sample)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_source(self, source: AlarmSource) -> None:
        """Read alarms from ``source`` (re-binds to its tags)."""
        self.source = source
        self.tag_link.refresh()
        self._refresh()

    def _names(self) -> list[str]:
        context = self.tag_link.context
        if self.source is None and context is not None:
            self.source = LimitAlarms(context.store)
        return self.source.tag_names() if self.source is not None else []

    def attach(self, context: HmiContext) -> None:
        """Bind to ``context`` (the main window's banner is not on a screen)."""
        self.tag_link.attach(context)

    def _on_sample(self, name: str, sample: Sample) -> None:
        self._refresh()

    def _refresh(self) -> None:
        items = self.source.active() if self.source is not None else []
        if items != self._items:
            self._items = items
            self.update()

    @property
    def top(self) -> AlarmItem | None:
        """The alarm shown: the most important unacknowledged one."""
        return next((a for a in self._items if not a.acknowledged), None)

    def text(self) -> str:
        """What the banner says, e.g. ``P1 12:03:44 area1/p101/tripped Pump P-101 tripped (+2)``."""
        top = self.top
        if top is None:
            active = len(self._items)
            return f"No unacknowledged alarms ({active} active)" if active else "No active alarms"
        stamp = time.strftime("%H:%M:%S", time.localtime(top.time)) if top.time else "--:--:--"
        more = sum(1 for a in self._items if not a.acknowledged) - 1
        suffix = f"   (+{more} more)" if more > 0 else ""
        return f"P{top.priority}  {stamp}  {top.message}  [{top.tag}]{suffix}"

    def sizeHint(self) -> QSize:
        """One fixed-height line."""
        return QSize(600, 30)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Acknowledge the alarm shown."""
        top = self.top
        if top is not None and self.source is not None:
            self.source.acknowledge(top.tag)
            self._refresh()
        super().mouseReleaseEvent(event)

    def paintEvent(self, event: object) -> None:
        """Shape, text, and a calm grey when nothing is waiting."""
        painter = QPainter(self)
        rect = QRectF(self.rect())
        painter.fillRect(rect, PANEL)
        top = self.top
        x = 8.0
        if top is not None:
            side = rect.height() - 8
            paint_alarm_mark(painter, QRectF(x, 4, side, side), top.priority)
            x += side + 8
        painter.setPen(TEXT)
        font = painter.font()
        font.setPixelSize(14)
        font.setBold(top is not None)
        painter.setFont(font)
        painter.drawText(rect.adjusted(x, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter, self.text())
        painter.end()
