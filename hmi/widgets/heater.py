"""Heater: an electric heating element (a zigzag in a box), dark while energised."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from hmi.qt.look import ACTIVE_FILL, IDLE_FILL, LINE
from hmi.qt.registry import register_widget
from hmi.widgets.equipment import EquipmentWidget


@register_widget(
    "Electric heater symbol (tag: energised; faultTag: interlock or trip), click for faceplate",
    width=80,
    height=90,
)
class Heater(EquipmentWidget):
    """An electric heater as drawn on a P&ID: a resistor zigzag in a box, with ON / OFF
    written under it (never colour alone); while the fault tag is true it says
    ``faultText`` (default ``INTLK``) and shows the fault's alarm mark.

    Not a motor: an operator reading "M" looks for a drive, a trip and a restart."""

    HINT = QSize(80, 90)
    SYMBOL_HEIGHT = 56.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fault_text = "INTLK"

    def energised(self) -> bool | None:
        """The energised feedback (None without a value)."""
        value = self.sample.value
        return None if value is None else bool(value)

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """Box, element, state text and label."""
        on = self.energised()
        box = QRectF(rect.center().x() - 24, rect.top() + self.PORT_Y - 16, 48, 32)
        painter.setPen(QPen(LINE, 1.5))
        painter.setBrush(ACTIVE_FILL if on else IDLE_FILL)
        painter.drawRect(box)
        # The element: a zigzag across the box; its terminal leaves on the right, where a
        # process line or the vessel's wall meets it (the centre line, PORT_Y).
        ink = QColor("#ffffff") if on else ACTIVE_FILL
        y, left, right = box.center().y(), box.left() + 7, box.right() - 7
        points = [QPointF(left, y)]
        steps = 6
        for i in range(1, steps):
            x = left + (right - left) * i / steps
            points.append(QPointF(x, y + (-9 if i % 2 else 9)))
        points.append(QPointF(right, y))
        painter.setPen(QPen(ink, 2.0))
        painter.setBrush(QColor(0, 0, 0, 0))
        painter.drawPolyline(QPolygonF(points))
        painter.setPen(QPen(LINE, 2.0))
        painter.drawLine(QPointF(box.right(), y), QPointF(rect.right(), y))
        self.paint_caption(painter, rect, self.state_text())

    def state_text(self) -> str:
        """What the caption says: ON, OFF, the fault text (INTLK) or ``----``."""
        on = self.energised()
        if on is None:
            return "----"
        if self.faulted():
            return self.fault_text
        return "ON" if on else "OFF"
