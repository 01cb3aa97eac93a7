"""StateIndicator: a discrete value shown as text in a shape, coloured only when abnormal."""

from __future__ import annotations

from PySide6.QtCore import Property, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from hmi.qt.look import (
    BACKGROUND,
    FIELD,
    FIELD_EDGE,
    IDLE_FILL,
    LINE,
    VALUE,
    mark_side,
)
from hmi.qt.registry import register_widget
from hmi.widgets.base import TagWidget
from hmi.widgets.states import State, parse_states, state_key

_SHAPES = ("rect", "circle", "diamond")


@register_widget(
    "Discrete state as text and shape (states: 0=Off;1=On:#d40000)", width=110, height=28
)
class StateIndicator(TagWidget):
    """Maps the tag's value through ``states`` to a text and, for abnormal states, a
    colour; ``shape`` is rect, circle (a lamp with the text beside it) or diamond.

    Drawn as a readout (the flat field of a ValueLabel, text left-aligned), never like a
    button: an operator must not take a state for something to press."""

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

    def mark_box(self, rect: QRectF) -> QRectF:
        """Left in the field (a lamp's mark goes right, after its text)."""
        side = mark_side(rect.height() - 4)
        top = rect.center().y() - side / 2
        if self._shape == "circle":
            return QRectF(rect.right() - side - 3, top, side, side)
        return QRectF(rect.left() + 3, top, side, side)

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """A readout, not a button: a flat field (the colour of an abnormal state) with
        the state's text; ``circle`` is a lamp with the text beside it."""
        state = self.current_state()
        abnormal = QColor(state.colour) if state.colour else None
        body = rect.adjusted(0.5, 0.5, -0.5, -0.5)
        text_box = body.adjusted(6, 0, -4, 0)
        fill = FIELD
        if self._shape == "circle":
            d = body.height() - 6
            painter.setPen(QPen(LINE, 1))
            painter.setBrush(abnormal or IDLE_FILL)
            painter.drawEllipse(QRectF(body.left() + 3, body.top() + 3, d, d))
            text_box = body.adjusted(d + 10, 0, 0, 0)
            fill = BACKGROUND
        elif self._shape == "diamond":
            c = body.center()
            fill = abnormal or FIELD
            painter.setPen(QPen(FIELD_EDGE, 1))
            painter.setBrush(fill)
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
            # The same flat field as a ValueLabel: square, no raised edge, no hover.
            fill = abnormal or FIELD
            painter.setPen(QPen(abnormal.darker(140) if abnormal else FIELD_EDGE, 1))
            painter.setBrush(fill)
            painter.drawRect(body)
        if self.shown_mark().priority:
            # The mark's own place: it never hides the start (or a lamp's end) of the text.
            side = self.mark_box(rect).width()
            if self._shape == "circle":
                text_box = text_box.adjusted(0, 0, -(side + 6), 0)
            else:
                text_box = text_box.adjusted(side + 4, 0, 0, 0)
        painter.setPen(QColor("#ffffff") if fill.lightness() < 110 else VALUE)
        painter.setFont(self.value_font(12))
        align = Qt.AlignmentFlag.AlignVCenter | (
            Qt.AlignmentFlag.AlignHCenter
            if self._shape == "diamond"
            else Qt.AlignmentFlag.AlignLeft
        )
        painter.drawText(text_box, align, state.text)
