"""AlarmList: every active alarm, most important first, for the alarm screen."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from hmi.core.sample import Sample
from hmi.qt.alarms import AlarmItem, AlarmSource, LimitAlarms
from hmi.qt.link import TagLink
from hmi.qt.look import LINE, PANEL, TEXT, paint_alarm_mark
from hmi.qt.registry import register_widget

_ROW = 26


@register_widget("List of active alarms (click a row: acknowledge)", width=600, height=300)
class AlarmList(QWidget):
    """One row per active alarm: priority shape, time, state, message and tag.

    Unacknowledged alarms are bold; the list reads the same
    :class:`~hmi.qt.alarms.AlarmSource` as the banner (placeholder until the alarm engine).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source: AlarmSource | None = None
        self.items: list[AlarmItem] = []
        self.tag_link = TagLink(self, self._names, self._on_sample)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_source(self, source: AlarmSource) -> None:
        """Read alarms from ``source``."""
        self.source = source
        self.tag_link.refresh()
        self._refresh()

    def _names(self) -> list[str]:
        context = self.tag_link.context
        if self.source is None and context is not None:
            self.source = LimitAlarms(context.store)
        return self.source.tag_names() if self.source is not None else []

    def _on_sample(self, name: str, sample: Sample) -> None:
        self._refresh()

    def _refresh(self) -> None:
        items = self.source.active() if self.source is not None else []
        if items != self.items:
            self.items = items
            self.update()

    def sizeHint(self) -> QSize:
        """Room for ten rows."""
        return QSize(600, 10 * _ROW + _ROW)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Acknowledge the clicked alarm."""
        row = int(event.position().y() // _ROW) - 1
        if 0 <= row < len(self.items) and self.source is not None:
            self.source.acknowledge(self.items[row].tag)
            self._refresh()
        super().mouseReleaseEvent(event)

    def paintEvent(self, event: object) -> None:
        """Header and rows."""
        painter = QPainter(self)
        width = float(self.width())
        painter.fillRect(QRectF(0, 0, width, _ROW), PANEL)
        painter.setPen(TEXT)
        font = painter.font()
        font.setPixelSize(13)
        font.setBold(True)
        painter.setFont(font)
        columns = (("Pri", 8), ("Time", 44), ("State", 124), ("Message", 220), ("Tag", width - 260))
        for title, x in columns:
            painter.drawText(QRectF(x, 0, 200, _ROW), Qt.AlignmentFlag.AlignVCenter, title)
        if not self.items:
            font.setBold(False)
            painter.setFont(font)
            painter.drawText(
                QRectF(8, _ROW, width, _ROW), Qt.AlignmentFlag.AlignVCenter, "No active alarms"
            )
        for row, item in enumerate(self.items, start=1):
            y = row * _ROW
            if row % 2 == 0:
                painter.fillRect(QRectF(0, y, width, _ROW), QColor("#cdcdcd"))
            paint_alarm_mark(painter, QRectF(10, y + 4, _ROW - 8, _ROW - 8), item.priority)
            font.setBold(not item.acknowledged)
            painter.setFont(font)
            painter.setPen(TEXT)
            stamp = (
                time.strftime("%H:%M:%S", time.localtime(item.time)) if item.time else "--:--:--"
            )
            state = "ACKED" if item.acknowledged else "UNACK"
            for text, (_, x) in zip(
                (stamp, state, item.message, item.tag), columns[1:], strict=True
            ):
                painter.drawText(QRectF(x, y, width - x, _ROW), Qt.AlignmentFlag.AlignVCenter, text)
            painter.setPen(LINE)
            painter.drawLine(0, y + _ROW - 1, int(width), y + _ROW - 1)
        painter.end()
