"""AlarmBanner: the most important alarms, their counts, and Ack, always in view."""

from __future__ import annotations

import time

from PySide6.QtCore import Property, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSizePolicy, QWidget

from hmi.core.alarms import AlarmState, AlarmStatus
from hmi.qt.alarm_feed import AlarmFeed
from hmi.qt.alarm_marks import status_mark
from hmi.qt.alarms import alarm_time, level_text
from hmi.qt.context import HmiContext
from hmi.qt.look import ALARM_COLOURS, LINE, PANEL, TEXT, mark_side, paint_alarm_mark
from hmi.qt.registry import register_widget

_LINE_HEIGHT = 28
#: room on the right for the counts and the Ack button
_COUNTS_WIDTH = 300
#: the side of the count marks on the right
_COUNT_MARK = 20.0
#: a darker field while something waits for acknowledgement: seen from across the room
_WAITING = QColor("#b2b2b2")
_UNKNOWN = "Alarm state unknown: no answer from the alarm engine"
#: the states an alarm is hidden from the lines in on purpose, and how the banner says so
_HIDDEN_WORDS = {
    AlarmState.SHELVED: "shelved",
    AlarmState.OUT_OF_SERVICE: "out of service",
    AlarmState.SUPPRESSED: "suppressed",
}
_STATE_WORDS = {
    AlarmState.UNACKNOWLEDGED: "UNACK",
    AlarmState.ACKNOWLEDGED: "ACK",
    AlarmState.RETURNED_UNACKNOWLEDGED: "RTN UNACK",
}


@register_widget(
    "The most important alarms, counts and Ack (click: alarm summary)", width=800, height=52
)
class AlarmBanner(QWidget):
    """The top ``lines`` alarms (unacknowledged first, then priority, newest), how many are
    waiting per priority, and an Ack button for the alarms shown.

    Reads the session's :class:`~hmi.qt.alarms.AlarmModel` (``context.alarms``); without a
    session (Designer) it shows "No active alarms". Clicking the banner (not the button)
    asks the shell for the alarm summary.
    """

    #: the banner was clicked (the shell opens the alarm summary)
    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lines = 2
        self._items: list[AlarmStatus] = []
        #: alarms hidden from the lines on purpose (shelved, out of service, suppressed)
        self._hidden: list[AlarmStatus] = []
        #: whether the model was in step with the engine when last painted
        self._synced = False
        self.feed = AlarmFeed(self, self._on_alarms, self._on_flash)
        self.tag_link = self.feed.tag_link
        self.ack_button = QPushButton("Ack", self)
        self.ack_button.setObjectName("AlarmAckButton")
        self.ack_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.ack_button.clicked.connect(self.acknowledge_shown)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 6, 4)
        layout.addStretch(1)
        layout.addWidget(self.ack_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._on_alarms(None)

    # -- Designer property ---------------------------------------------------------------
    def _get_lines(self) -> int:
        return self._lines

    def _set_lines(self, lines: int) -> None:
        self._lines = max(1, min(5, int(lines)))
        self.updateGeometry()
        self._on_alarms(None)

    lines = Property(int, _get_lines, _set_lines, doc="alarms shown, one per line (1..5)")

    # -- model ---------------------------------------------------------------------------
    def attach(self, context: HmiContext) -> None:
        """Follow ``context``'s alarms (the main window's banner is on no screen)."""
        self.feed.attach(context)

    def _on_alarms(self, tags: frozenset[str] | None) -> None:
        model = self.feed.model
        items = model.annunciated()
        hidden = [s for s in model.listed() if s.state in _HIDDEN_WORDS]
        # "Alarm state unknown" turning into "No active alarms" (or back) changes no item:
        # it must be repainted all the same, or the banner goes on saying "unknown".
        synced = model.synced
        if items != self._items or hidden != self._hidden or synced != self._synced:
            self._items = items
            self._hidden = hidden
            self._synced = synced
            self.update()
        shown = [a.tag for a in self.shown if a.state.needs_ack]
        self.ack_button.setEnabled(bool(shown) and model.connected)
        self.ack_button.setToolTip(
            "Acknowledge: " + ", ".join(shown) if shown else "Nothing shown waits for Ack"
        )

    def _on_flash(self) -> None:
        # Only the marks of waiting alarms change: nothing to repaint when none is shown.
        if any(a.state.needs_ack for a in self.shown):
            self.update()

    @property
    def items(self) -> list[AlarmStatus]:
        """Every annunciated alarm, most important first."""
        return list(self._items)

    @property
    def shown(self) -> list[AlarmStatus]:
        """The alarms on the banner's lines."""
        return self._items[: self._lines]

    @property
    def top(self) -> AlarmStatus | None:
        """The most important unacknowledged alarm, if any."""
        return next((a for a in self._items if a.state.needs_ack), None)

    def waiting(self) -> dict[int, int]:
        """Unacknowledged alarms per priority (1..4)."""
        counts = dict.fromkeys(ALARM_COLOURS, 0)
        for item in self._items:
            if item.state.needs_ack:
                counts[item.priority] = counts.get(item.priority, 0) + 1
        return counts

    def hidden(self) -> dict[AlarmState, list[AlarmStatus]]:
        """Alarms not on the lines on purpose, by state (shelved, out of service,
        suppressed): an operator must know they are there, so the banner counts them."""
        out: dict[AlarmState, list[AlarmStatus]] = {}
        for status in self._hidden:
            out.setdefault(status.state, []).append(status)
        return out

    def hidden_text(self) -> str:
        """E.g. ``1 shelved (P1)``, ``2 shelved (P1, P3), 1 out of service``; empty if none."""
        parts = []
        for state, word in _HIDDEN_WORDS.items():
            statuses = self.hidden().get(state, [])
            if statuses:
                priorities = ", ".join(f"P{p}" for p in sorted({s.priority for s in statuses}))
                parts.append(f"{len(statuses)} {word} ({priorities})")
        return ", ".join(parts)

    def acknowledge_shown(self) -> None:
        """Acknowledge the unacknowledged alarms on the banner (refusals are reported)."""
        tags = [a.tag for a in self.shown if a.state.needs_ack]
        if tags:
            model = self.feed.model
            model.request(model.acknowledge(tags))

    # -- text ------------------------------------------------------------------------------
    def line_text(self, item: AlarmStatus) -> str:
        """One line, e.g. ``12:03:44  UNACK  HI  Tank level high  [area1/t101/level]``."""
        when = alarm_time(item)  # when it came: an ack or a shelve does not change it
        stamp = time.strftime("%H:%M:%S", time.localtime(when)) if when else "--:--"
        state = _STATE_WORDS.get(item.state, item.state.value.upper())
        level = level_text(item.level)
        level = f"{level}  " if level else ""
        bad = "  (input BAD)" if item.input_bad else ""
        return f"{stamp}  {state}  {level}{item.message or item.tag}  [{item.tag}]{bad}"

    def text(self) -> str:
        """What the banner says in one line (the top alarm and how many more wait)."""
        hidden = self.hidden_text()
        if not self._items:
            # Never "no alarms" when we do not know: an operator would trust it.
            if not self.feed.model.synced:
                return _UNKNOWN
            # Never a bare "no alarms" while one is shelved: it is still there.
            return f"No active alarms; {hidden}" if hidden else "No active alarms"
        top = self.top
        if top is None:
            return f"No unacknowledged alarms ({len(self._items)} active)"
        more = sum(self.waiting().values()) - 1
        suffix = f"   (+{more} more)" if more > 0 else ""
        return f"P{top.priority}  {self.line_text(top)}{suffix}"

    # -- Qt --------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        """``lines`` rows of text."""
        return QSize(800, self._lines * _LINE_HEIGHT + 8)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Ask for the alarm summary."""
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
            self.feed.model.summary_requested.emit()
        super().mouseReleaseEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Lines on the left, counts on the right; a darker field while alarms wait."""
        painter = QPainter(self)
        rect = QRectF(self.rect())
        waiting = self.waiting()
        unknown = not self.feed.model.synced
        painter.fillRect(rect, _WAITING if any(waiting.values()) or unknown else PANEL)
        side = mark_side(_LINE_HEIGHT - 6.0)
        painter.setPen(LINE)
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        button_left = float(self.ack_button.geometry().left())
        text_right = max(120.0, button_left - _COUNTS_WIDTH)
        font = QFont(painter.font())
        font.setPixelSize(14)
        if not self._items:
            font.setBold(unknown)
            painter.setFont(font)
            painter.setPen(TEXT)
            painter.drawText(
                rect.adjusted(10, 0, -(rect.width() - text_right), 0),
                Qt.AlignmentFlag.AlignVCenter,
                self.text(),
            )
        for row, item in enumerate(self.shown):
            top = 4.0 + row * _LINE_HEIGHT
            mark = status_mark(item, self.feed.lit)
            paint_alarm_mark(painter, QRectF(8, top + (_LINE_HEIGHT - side) / 2, side, side), mark)
            font.setBold(item.state.needs_ack)
            painter.setFont(font)
            painter.setPen(TEXT)
            line = QRectF(18 + side, top, text_right - 26 - side, _LINE_HEIGHT)
            text = painter.fontMetrics().elidedText(
                self.line_text(item), Qt.TextElideMode.ElideRight, int(line.width())
            )
            painter.drawText(line, Qt.AlignmentFlag.AlignVCenter, text)
        self._paint_counts(
            painter, QRectF(text_right, 0, button_left - text_right - 6, rect.height()), waiting
        )
        painter.end()

    def _paint_counts(self, painter: QPainter, box: QRectF, waiting: dict[int, int]) -> None:
        """Per priority with alarms waiting: its mark and how many; then the totals and
        the alarms hidden on purpose (shelved ...).

        Nothing while no alarm is active (the line on the left says what is hidden): a calm
        banner is the normal state.
        """
        if not self._items:
            return
        hidden = self.hidden_text()
        font = QFont(painter.font())
        font.setPixelSize(13)
        font.setBold(True)
        painter.setFont(font)
        side = _COUNT_MARK
        x = box.left()
        top = box.top() + 4
        for priority, count in sorted(waiting.items()):
            if count:
                paint_alarm_mark(painter, QRectF(x + 2, top + 2, side, side), priority)
                painter.setPen(TEXT)
                painter.drawText(
                    QRectF(x + side + 7, top, 34, side + 4),
                    Qt.AlignmentFlag.AlignVCenter,
                    str(count),
                )
                x += side + 44
        font.setBold(False)
        painter.setFont(font)
        painter.setPen(TEXT)
        stale = "" if self.feed.model.synced else "  (may be stale)"
        lines = [f"{sum(waiting.values())} unack / {len(self._items)} active{stale}"]
        if hidden:
            lines.append(hidden)
        row = QRectF(box.left(), top + _LINE_HEIGHT - 4, box.width(), _LINE_HEIGHT - 4)
        text = painter.fontMetrics().elidedText(
            "  |  ".join(lines), Qt.TextElideMode.ElideRight, int(row.width())
        )
        painter.drawText(row, Qt.AlignmentFlag.AlignVCenter, text)
