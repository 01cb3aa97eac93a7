"""AnalogIndicator: the ISA-101 moving-pointer bar with its normal band and alarm limits."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPen, QPolygonF

from hmi.qt.format import format_value
from hmi.qt.look import (
    ALARM_COLOURS,
    IDLE_FILL,
    LINE,
    NORMAL_BAND,
    VALUE,
    mark_side,
)
from hmi.qt.registry import register_widget
from hmi.widgets.base import TagWidget
from hmi.widgets.scale import display_range, fraction


@register_widget(
    "Analog indicator: bar, normal band, alarm limits and pointer", width=70, height=160
)
class AnalogIndicator(TagWidget):
    """A vertical scale from the tag's limits with the normal operating band shaded
    (between the lo and hi alarm limits), alarm limits as coloured ticks and the value as
    a pointer: an operator sees "inside the band" without reading a number."""

    HINT = QSize(70, 160)
    MARKS_ALARMS = True

    def mark_box(self, rect: QRectF) -> QRectF:
        """Top right, beside the scale (the pointer runs between them)."""
        side = mark_side(rect.width() - 50)
        return QRectF(rect.right() - side - 2, rect.top() + 3, side, side)

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """Scale, band, limit ticks, pointer and value text."""
        tag, sample = self.tag_def, self.sample
        low, high = display_range(tag, 0.0, 0.0)
        bar = QRectF(rect.left() + 22, rect.top() + 8, 16, rect.height() - 36)

        def y_of(value: float) -> float:
            f = fraction(value, low, high)
            return bar.bottom() - (f or 0.0) * bar.height()

        painter.setPen(QPen(LINE, 1))
        painter.setBrush(IDLE_FILL)
        painter.drawRect(bar)
        alarms = tag.alarms if tag is not None else None
        if alarms is not None:
            lo = alarms.lo if alarms.lo is not None else alarms.lolo
            hi = alarms.hi if alarms.hi is not None else alarms.hihi
            top = y_of(hi) if hi is not None else bar.top()
            bottom = y_of(lo) if lo is not None else bar.bottom()
            painter.fillRect(
                QRectF(bar.left() + 1, top, bar.width() - 1, bottom - top), NORMAL_BAND
            )
            for limit, priority in (
                (alarms.hihi, max(1, alarms.priority - 1)),
                (alarms.hi, alarms.priority),
                (alarms.lo, alarms.priority),
                (alarms.lolo, max(1, alarms.priority - 1)),
            ):
                if limit is not None:
                    painter.setPen(QPen(ALARM_COLOURS.get(priority, ALARM_COLOURS[4]), 2))
                    y = y_of(limit)
                    painter.drawLine(QPointF(bar.left() - 4, y), QPointF(bar.right() + 4, y))
        painter.setPen(LINE)
        painter.setFont(self.value_font(9, bold=False))
        painter.drawText(
            QRectF(rect.left(), bar.top() - 6, 19, 12), Qt.AlignmentFlag.AlignRight, f"{high:g}"
        )
        painter.drawText(
            QRectF(rect.left(), bar.bottom() - 6, 19, 12), Qt.AlignmentFlag.AlignRight, f"{low:g}"
        )
        f = fraction(sample.value, low, high)
        if f is not None:
            y = bar.bottom() - f * bar.height()
            painter.setPen(QPen(VALUE, 1))
            painter.setBrush(VALUE)
            x = bar.right() + 2
            painter.drawPolygon(
                QPolygonF([QPointF(x, y), QPointF(x + 10, y - 6), QPointF(x + 10, y + 6)])
            )
        painter.setPen(VALUE)
        painter.setFont(self.value_font(12))
        text_box = QRectF(rect.left(), rect.bottom() - 24, rect.width(), 20)
        painter.drawText(
            text_box, Qt.AlignmentFlag.AlignCenter, format_value(sample.value, tag, with_unit=True)
        )
