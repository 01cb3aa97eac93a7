"""Tank: a vessel with its level as a muted fill, the value and the alarm limits."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPen

from hmi.qt.format import format_value
from hmi.qt.look import (
    ALARM_COLOURS,
    IDLE_FILL,
    LINE,
    LIQUID,
    VALUE,
    mark_side,
)
from hmi.qt.registry import register_widget
from hmi.widgets.base import TagWidget
from hmi.widgets.scale import display_range, fraction


@register_widget("Tank with level fill (tag: level)", width=120, height=180)
class Tank(TagWidget):
    """A vertical vessel filled to the level's fraction of the tag's range.

    The fill is a muted blue-grey (liquid is not an alarm); alarm limits are ticks on the
    wall; the level is written in the vessel.
    """

    HINT = QSize(120, 180)
    MARKS_ALARMS = True

    @staticmethod
    def vessel_rect(rect: QRectF) -> QRectF:
        """The vessel in ``rect`` (design units): process lines meet its wall."""
        return rect.adjusted(10, 8, -10, -8)

    def vessel_area(self) -> QRect:
        """The vessel in widget pixels (a pipe reaching the tank touches this)."""
        z = self.zoom
        design = self.vessel_rect(QRectF(0, 0, self.width() / z, self.height() / z))
        return QRectF(
            design.x() * z, design.y() * z, design.width() * z, design.height() * z
        ).toRect()

    def mark_box(self, rect: QRectF) -> QRectF:
        """Inside the vessel, top left, clear of the rounded corner."""
        side = mark_side(rect.width() / 3)
        return QRectF(rect.left() + 16, rect.top() + 16, side, side)

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """Vessel, fill, limit ticks and value."""
        tag, sample = self.tag_def, self.sample
        low, high = display_range(tag, 0.0, 0.0)
        body = self.vessel_rect(rect)
        path = QPainterPath()
        path.addRoundedRect(body, 14, 14)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(IDLE_FILL)
        painter.drawPath(path)
        f = fraction(sample.value, low, high)
        if f is not None:
            painter.save()
            painter.setClipPath(path)
            top = body.bottom() - f * body.height()
            painter.fillRect(QRectF(body.left(), top, body.width(), body.bottom() - top), LIQUID)
            painter.restore()
        painter.setPen(QPen(LINE, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        alarms = tag.alarms if tag is not None else None
        if alarms is not None:
            for limit, priority in (
                (alarms.hihi, max(1, alarms.priority - 1)),
                (alarms.hi, alarms.priority),
                (alarms.lo, alarms.priority),
                (alarms.lolo, max(1, alarms.priority - 1)),
            ):
                lf = fraction(limit, low, high) if limit is not None else None
                if lf is not None:
                    y = body.bottom() - lf * body.height()
                    painter.setPen(QPen(ALARM_COLOURS.get(priority, ALARM_COLOURS[4]), 2))
                    painter.drawLine(QPointF(body.right() - 8, y), QPointF(body.right() + 6, y))
        painter.setPen(VALUE)
        painter.setFont(self.value_font(14))
        box = QRectF(body.left(), body.center().y() - 12, body.width(), 24)
        painter.drawText(
            box, Qt.AlignmentFlag.AlignCenter, format_value(sample.value, tag, with_unit=True)
        )
