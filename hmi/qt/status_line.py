"""StatusLine: how a write went, in words, right under the control that sent it.

A red frame with the reason in a tooltip is not an answer an operator reads: every write
control (SetpointEntry, CommandButton, a QPushButton or QCheckBox bound by a ``tag``
property) shows a small line of text under itself: pending,
then confirmed, rejected, failed, timed out or overridden, with the reason. The line is a
sibling of its control (a child of the same screen), so it is never clipped by the
control's own size; it follows the control when the drawing is scaled or moved, and
clears itself after a while (a confirmation soon, a failure later) or when the operator
starts the next entry. Screens leave a line's height (about 26 px) free under write
widgets for it; where there is no room below, it goes above.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from hmi.core.command import CommandState

#: seconds a final outcome stays before the line clears (pending stays until answered)
HOLD_SECONDS = {
    CommandState.CONFIRMED: 6.0,
    CommandState.OVERRIDDEN: 30.0,
    CommandState.REJECTED: 30.0,
    CommandState.FAILED: 30.0,
    CommandState.TIMED_OUT: 30.0,
}
#: a note that is no outcome ("already ON: nothing sent")
NOTE_SECONDS = 6.0

_FIELD = QColor("#f4f4f4")
_EDGE = QColor("#8c8c8c")
#: the text and icon colours: calm for pending and confirmed, dark red for a refusal or
#: failure, dark amber when the device holds another value (not alarm colours: a write's
#: outcome is no alarm)
_INK = {
    None: QColor("#3a3a3a"),
    CommandState.PENDING: QColor("#3a3a3a"),
    CommandState.CONFIRMED: QColor("#0d2b45"),
    CommandState.OVERRIDDEN: QColor("#8a4b00"),
    CommandState.REJECTED: QColor("#8b0000"),
    CommandState.FAILED: QColor("#8b0000"),
    CommandState.TIMED_OUT: QColor("#8b0000"),
}


class StatusLine(QWidget):
    """The status line of ``owner`` (a write widget), placed under it in its screen."""

    #: the line cleared by itself (its time was up): the owner forgets the outcome too
    faded = Signal()

    def __init__(self, owner: QWidget) -> None:
        host = owner.parentWidget()
        # A control without a screen (a test, a preview) keeps its line inside itself.
        super().__init__(host if host is not None else owner)
        self.owner = owner
        self.setObjectName("WriteStatusLine")
        self.state: CommandState | None = None
        #: True for a note (nothing was sent), drawn with an "i"
        self.note = False
        self._text = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fade)
        owner.installEventFilter(self)
        self.hide()

    # -- what it says --------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The words shown (``""`` when the line is clear)."""
        return self._text

    def show_outcome(self, state: CommandState | None, text: str) -> None:
        """Say ``text`` for a command in ``state``; nothing (clear) for None or no text."""
        if state is None or not text:
            self.clear()
            return
        self._say(state, text, HOLD_SECONDS.get(state), note=False)

    def show_note(self, text: str) -> None:
        """Say ``text``, which is no command's outcome (e.g. why nothing was sent)."""
        self._say(None, text, NOTE_SECONDS, note=True)

    def clear(self) -> None:
        """Say nothing."""
        self._timer.stop()
        self.state, self.note, self._text = None, False, ""
        self.setToolTip("")
        self.hide()

    def _say(
        self, state: CommandState | None, text: str, hold: float | None, *, note: bool
    ) -> None:
        self.state, self.note, self._text = state, note, text
        self.setToolTip(text)
        if hold is None:
            self._timer.stop()
        else:
            self._timer.start(round(hold * 1000))
        self._place()
        if self.owner.isVisible() or self.parentWidget() is self.owner:
            self.show()
        self.raise_()
        self.update()

    def _fade(self) -> None:
        self.clear()
        self.faded.emit()

    # -- where it is ---------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Follow the owner: moved or scaled with its drawing, hidden with it."""
        kind = event.type()
        if watched is self.owner and self._text:
            if kind in (QEvent.Type.Move, QEvent.Type.Resize):
                self._place()
            elif kind == QEvent.Type.Show:
                self._place()
                self.show()
            elif kind == QEvent.Type.Hide:
                self.hide()
        return False

    def _text_font(self) -> QFont:
        """The widget's font (the screen's, scaled with its drawing), bold for an outcome
        that needs the operator (a refusal, a failure, an override)."""
        self.ensurePolished()  # the screen's style sheet sets the (scaled) font size
        font = QFont(self.font())
        final = self.state not in (None, CommandState.PENDING, CommandState.CONFIRMED)
        font.setBold(final and not self.note)
        return font

    def _place(self) -> None:
        metrics = QFontMetrics(self._text_font())
        height = metrics.height() + 8
        wanted = metrics.horizontalAdvance(self._text) + height + 14
        owner = self.owner
        host = self.parentWidget()
        if host is None or host is owner:
            self.setGeometry(QRect(0, max(0, owner.height() - height), owner.width(), height))
            return
        area = host.rect()
        width = max(owner.width(), min(wanted, area.width()))
        # Left-aligned with its control; moved left rather than cut at the screen's edge.
        x = max(0, min(owner.x(), area.x() + area.width() - width))
        y = owner.y() + owner.height() + 2
        if y + height > area.bottom() and owner.y() - height - 2 >= 0:
            y = owner.y() - height - 2  # no room below: above the control
        self.setGeometry(QRect(x, y, width, height))
        self._supersede()

    def _supersede(self) -> None:
        """Another control's finished outcome under this one's (two buttons of one row)
        has been superseded by this command: it goes, rather than show half hidden."""
        host = self.parentWidget()
        for other in host.findChildren(StatusLine) if host is not None else ():
            if other is self or not other.isVisible() or other.state is CommandState.PENDING:
                continue
            if other.geometry().intersects(self.geometry()):
                other._fade()

    # -- Qt ------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        """A light field with an icon (shape, not only colour) and the words."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QPen(_EDGE, 1))
        painter.setBrush(_FIELD)
        painter.drawRoundedRect(rect, 3, 3)
        ink = _INK.get(self.state, _INK[None])
        side = rect.height() - 8
        icon = QRectF(rect.left() + 5, rect.top() + 4, side, side)
        _paint_icon(painter, icon, None if self.note else self.state, ink)
        painter.setFont(self._text_font())
        painter.setPen(ink)
        text_rect = rect.adjusted(side + 12, 0, -6, 0)
        shown = painter.fontMetrics().elidedText(
            self._text, Qt.TextElideMode.ElideRight, round(text_rect.width())
        )
        align = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        painter.drawText(text_rect, align, shown)
        painter.end()


def _paint_icon(painter: QPainter, rect: QRectF, state: CommandState | None, ink: QColor) -> None:
    """Pending: three dots; confirmed: a tick; overridden: a triangle with ``!``; a
    refusal or failure: a cross; a note: ``i`` in a circle."""
    painter.save()
    pen = QPen(ink, max(1.6, rect.width() / 7))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    x, y, w, h = rect.x(), rect.y(), rect.width(), rect.height()
    if state is CommandState.PENDING:
        painter.setBrush(ink)
        painter.setPen(Qt.PenStyle.NoPen)
        for i in range(3):
            painter.drawEllipse(QPointF(x + w * (0.2 + 0.3 * i), y + h / 2), w / 10, w / 10)
    elif state is CommandState.CONFIRMED:
        painter.drawPolyline(
            QPolygonF(
                [
                    QPointF(x + w * 0.12, y + h * 0.55),
                    QPointF(x + w * 0.4, y + h * 0.82),
                    QPointF(x + w * 0.9, y + h * 0.2),
                ]
            )
        )
    elif state is CommandState.OVERRIDDEN:
        painter.drawPolygon(
            QPolygonF([QPointF(x + w / 2, y + 1), QPointF(x + w, y + h), QPointF(x, y + h)])
        )
        painter.drawLine(QPointF(x + w / 2, y + h * 0.38), QPointF(x + w / 2, y + h * 0.68))
        painter.drawPoint(QPointF(x + w / 2, y + h * 0.86))
    elif state is None:
        painter.drawEllipse(rect.adjusted(1, 1, -1, -1))
        painter.drawLine(QPointF(x + w / 2, y + h * 0.45), QPointF(x + w / 2, y + h * 0.75))
        painter.drawPoint(QPointF(x + w / 2, y + h * 0.27))
    else:
        painter.drawLine(QPointF(x + w * 0.18, y + h * 0.18), QPointF(x + w * 0.82, y + h * 0.82))
        painter.drawLine(QPointF(x + w * 0.82, y + h * 0.18), QPointF(x + w * 0.18, y + h * 0.82))
    painter.restore()
