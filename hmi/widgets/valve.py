"""Valve: the bow-tie symbol, dark when open, light when closed, with its position."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize
from PySide6.QtGui import QPainter, QPen, QPolygonF

from hmi.qt.format import format_value
from hmi.qt.look import ACTIVE_FILL, IDLE_FILL, LINE
from hmi.qt.registry import register_widget
from hmi.widgets.equipment import EquipmentWidget
from hmi.widgets.scale import display_range, fraction


@register_widget(
    "Valve symbol (tag: open bool or position %), click for faceplate", width=80, height=82
)
class Valve(EquipmentWidget):
    """A control or on/off valve. ``tag`` is a position (0-100 % of the tag's range) or a
    boolean open feedback. Open is drawn dark, closed light; in between, the share of
    the symbol that is dark is the opening, and the position is written underneath."""

    HINT = QSize(80, 82)
    #: actuator, stem and bow-tie; the process line runs through the bow-tie's middle
    SYMBOL_HEIGHT = 48.0

    def opening(self) -> float | None:
        """0 (closed) .. 1 (open), None without a value."""
        sample = self.sample
        if isinstance(sample.value, bool):
            return 1.0 if sample.value else 0.0
        low, high = display_range(self.tag_def, 0.0, 0.0)
        return fraction(sample.value, low, high)

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """Bow-tie, stem, position text and label."""
        body = QRectF(rect.center().x() - 22, rect.top() + self.PORT_Y - 12, 44, 24)
        c = body.center()
        left = QPolygonF([body.topLeft(), c, body.bottomLeft()])
        right = QPolygonF([body.topRight(), c, body.bottomRight()])
        opening = self.opening()
        painter.setPen(QPen(LINE, 1.5))
        for triangle in (left, right):
            painter.setBrush(IDLE_FILL)
            painter.drawPolygon(triangle)
        if opening:
            # The dark share grows from the centre outwards with the opening.
            painter.save()
            w = body.width() / 2 * opening
            painter.setClipRect(QRectF(c.x() - w, body.top(), 2 * w, body.height()))
            painter.setBrush(ACTIVE_FILL)
            for triangle in (left, right):
                painter.drawPolygon(triangle)
            painter.restore()
        stem = body.top() - 10
        painter.drawLine(QPointF(c.x(), body.top()), QPointF(c.x(), stem))
        painter.drawLine(QPointF(c.x() - 7, stem), QPointF(c.x() + 7, stem))
        tag, sample = self.tag_def, self.sample
        if isinstance(sample.value, bool) or sample.value is None:
            text = "----" if sample.value is None else ("OPEN" if sample.value else "CLOSED")
        else:
            text = format_value(sample.value, tag, with_unit=True)
        self.paint_caption(painter, rect, text)
