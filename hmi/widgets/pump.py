"""Pump and Motor: a circle with a triangle (pump) or an M (motor), dark while running."""

from __future__ import annotations

from PySide6.QtCore import Property, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from hmi.qt.look import ACTIVE_FILL, IDLE_FILL, LINE
from hmi.qt.registry import register_widget
from hmi.widgets.equipment import EquipmentWidget


@register_widget(
    "Pump or motor symbol (tag: running; faultTag: tripped), click for faceplate",
    width=80,
    height=92,
)
class Pump(EquipmentWidget):
    """Running is a dark symbol, stopped a light one, with RUN / STOP written under it
    (never colour alone); a trip adds the alarm mark and TRIP. ``symbol`` is ``pump``
    or ``motor``."""

    HINT = QSize(80, 92)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._symbol = "pump"

    def _get_symbol(self) -> str:
        return self._symbol

    def _set_symbol(self, symbol: str) -> None:
        self._symbol = "motor" if symbol.strip().lower() == "motor" else "pump"
        self.update()

    symbol = Property(str, _get_symbol, _set_symbol, doc="pump or motor")

    def running(self) -> bool | None:
        """The running feedback (None without a value)."""
        value = self.sample.value
        return None if value is None else bool(value)

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """Symbol, state text and label."""
        running = self.running()
        d = 40.0
        circle = QRectF(rect.center().x() - d / 2, rect.top() + self.PORT_Y - d / 2, d, d)
        painter.setPen(QPen(LINE, 1.5))
        painter.setBrush(ACTIVE_FILL if running else IDLE_FILL)
        painter.drawEllipse(circle)
        ink = QColor("#ffffff") if running else ACTIVE_FILL
        c = circle.center()
        if self._symbol == "motor":
            painter.setPen(ink)
            painter.setFont(self.value_font(18))
            painter.drawText(circle, Qt.AlignmentFlag.AlignCenter, "M")
        else:
            painter.setPen(QPen(ink, 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPolygon(
                QPolygonF(
                    [
                        QPointF(c.x() - 10, c.y() - 13),
                        QPointF(c.x() + 15, c.y()),
                        QPointF(c.x() - 10, c.y() + 13),
                    ]
                )
            )
        self.paint_caption(painter, rect, self.state_text())

    def state_text(self) -> str:
        """What the caption says: RUN, STOP, the fault text (TRIP) or ``----``."""
        running = self.running()
        if running is None:
            return "----"
        if self.faulted():
            return self.fault_text
        return "RUN" if running else "STOP"


@register_widget("Motor symbol (tag: running; faultTag: tripped)", width=80, height=92)
class Motor(Pump):
    """A :class:`Pump` drawn as a motor (an M in the circle)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._symbol = "motor"
