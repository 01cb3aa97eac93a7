"""AlarmList: every annunciated alarm, most important first, for an alarm screen."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from hmi.core.alarms import AlarmState, AlarmStatus
from hmi.qt.alarm_feed import AlarmFeed
from hmi.qt.alarm_marks import status_mark
from hmi.qt.alarms import alarm_time
from hmi.qt.look import LINE, PANEL, TEXT, mark_side, paint_alarm_mark
from hmi.qt.registry import register_widget

_ROW = 28
_STRIPE = QColor("#cdcdcd")
_UNKNOWN = "Alarm state unknown: no answer from the alarm engine"
_STATE_WORDS = {
    AlarmState.UNACKNOWLEDGED: "UNACK",
    AlarmState.ACKNOWLEDGED: "ACK",
    AlarmState.RETURNED_UNACKNOWLEDGED: "RTN UNACK",
}


@register_widget("List of active alarms (double-click a row: acknowledge)", width=600, height=300)
class AlarmList(QWidget):
    """One row per annunciated alarm: priority shape, time, state, message and tag.

    Unacknowledged alarms are bold. Reads the session's alarm model like the banner; the
    alarm summary (sort, filter, shelve) is the full tool, this is the compact view for a
    screen drawn in Designer.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items: list[AlarmStatus] = []
        #: whether the model was in step with the engine when last painted
        self._synced = False
        self.feed = AlarmFeed(self, self._on_alarms, self._on_flash)
        self.tag_link = self.feed.tag_link
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def _on_alarms(self, tags: frozenset[str] | None) -> None:
        items = self.feed.model.annunciated()
        # "Alarm state unknown" turning into "No active alarms" changes no item: the
        # engine's answer must be repainted all the same.
        synced = self.feed.model.synced
        if items != self.items or synced != self._synced:
            self.items, self._synced = items, synced
            self.update()

    def _on_flash(self) -> None:
        if any(a.state.needs_ack for a in self.items[: self.height() // _ROW]):
            self.update()

    def row_at(self, y: float) -> AlarmStatus | None:
        """The alarm drawn at height ``y`` (None on the header or below the rows)."""
        row = int(y // _ROW) - 1
        return self.items[row] if 0 <= row < len(self.items) else None

    def sizeHint(self) -> QSize:
        """Room for ten rows."""
        return QSize(600, 10 * _ROW + _ROW)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """Acknowledge the alarm double-clicked (a single click is too easy to slip)."""
        item = self.row_at(event.position().y())
        if item is not None and item.state.needs_ack:
            model = self.feed.model
            model.request(model.acknowledge([item.tag]))
        super().mouseDoubleClickEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
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
            # Never "no alarms" when we do not know (no engine yet, or the link is lost).
            text = "No active alarms" if self.feed.model.synced else _UNKNOWN
            painter.drawText(QRectF(8, _ROW, width, _ROW), Qt.AlignmentFlag.AlignVCenter, text)
        bottom = self.height()
        for row, item in enumerate(self.items, start=1):
            y = row * _ROW
            if y > bottom:
                break  # rows below the widget cost nothing
            if row % 2 == 0:
                painter.fillRect(QRectF(0, y, width, _ROW), _STRIPE)
            mark = status_mark(item, self.feed.lit)
            side = mark_side(_ROW - 6)
            paint_alarm_mark(painter, QRectF(10, y + (_ROW - side) / 2, side, side), mark)
            font.setBold(item.state.needs_ack)
            painter.setFont(font)
            painter.setPen(TEXT)
            when = alarm_time(item)  # when it came: an ack does not change it
            stamp = time.strftime("%H:%M:%S", time.localtime(when)) if when else "--:--:--"
            state = _STATE_WORDS.get(item.state, item.state.value.upper())
            message = item.message or item.tag
            for text, (_, x) in zip((stamp, state, message, item.tag), columns[1:], strict=True):
                painter.drawText(QRectF(x, y, width - x, _ROW), Qt.AlignmentFlag.AlignVCenter, text)
            painter.setPen(LINE)
            painter.drawLine(0, y + _ROW - 1, int(width), y + _ROW - 1)
        painter.end()
