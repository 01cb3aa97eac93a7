"""StateIndicator: a discrete value shown as text in a shape, coloured only when abnormal."""

from __future__ import annotations

from PySide6.QtCore import Property, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from hmi.qt.look import IDLE_FILL, LINE, TEXT, paint_alarm_mark
from hmi.qt.registry import register_widget
from hmi.widgets.base import TagWidget
from hmi.widgets.states import State, parse_states, state_key

_SHAPES = ("rect", "circle", "diamond")


@register_widget(
    "Discrete state as text and shape (states: 0=Off;1=On:#d40000)", width=110, height=28
)
class StateIndicator(TagWidget):
    """Maps the tag's value through ``states`` to a text and, for abnormal states, a
    colour; ``shape`` is rect, circle (a lamp with the text beside it) or diamond."""

    HINT = QSize(110, 28)
    MARKS_ALARMS = True

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._states_spec = "0=OFF;1=ON"
        self._states = parse_states(self._states_spec)
        self._shape = "rect"

    def _get_states(self) -> str:
        return self._states_spec

    def _set_states(self, spec: str) -> None:
        self._states_spec = spec
        self._states = parse_states(spec)
        self.update()

    def _get_shape(self) -> str:
        return self._shape

    def _set_shape(self, shape: str) -> None:
        self._shape = shape if shape in _SHAPES else "rect"
        self.update()

    states = Property(str, _get_states, _set_states, doc="value=Text[:#colour];...")
    shape = Property(str, _get_shape, _set_shape, doc="rect, circle or diamond")

    def current_state(self) -> State:
        """The state the current value maps to (its raw text if unmapped)."""
        value = self.sample.value
        if value is None:
            return State("----")
        return self._states.get(state_key(value), State(str(value), "#b04fd0"))

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """Shape with the state's text."""
        state = self.current_state()
        fill = QColor(state.colour) if state.colour else IDLE_FILL
        painter.setPen(QPen(LINE, 1))
        painter.setBrush(fill)
        body = rect.adjusted(1, 1, -1, -1)
        text_box = body
        if self._shape == "circle":
            d = body.height() - 4
            painter.drawEllipse(QRectF(body.left() + 2, body.top() + 2, d, d))
            text_box = body.adjusted(d + 6, 0, 0, 0)
            fill = IDLE_FILL
        elif self._shape == "diamond":
            c = body.center()
            painter.drawPolygon(
                QPolygonF(
                    [
                        QPointF(c.x(), body.top()),
                        QPointF(body.right(), c.y()),
                        QPointF(c.x(), body.bottom()),
                        QPointF(body.left(), c.y()),
                    ]
                )
            )
        else:
            painter.drawRect(body)
        mark = self.alarm_mark()
        side = min(16.0, rect.height() - 6)
        if mark.priority:
            # The mark's own place on the right: it never hides the end of the text.
            text_box = text_box.adjusted(0, 0, -(side + 4), 0)
        painter.setPen(QColor("#ffffff") if fill.lightness() < 110 else TEXT)
        painter.setFont(self.value_font(12))
        align = Qt.AlignmentFlag.AlignVCenter | (
            Qt.AlignmentFlag.AlignLeft if self._shape == "circle" else Qt.AlignmentFlag.AlignHCenter
        )
        painter.drawText(text_box, align, state.text)
        if mark.priority:
            top = rect.center().y() - side / 2
            paint_alarm_mark(painter, QRectF(rect.right() - side - 4, top, side, side), mark)
