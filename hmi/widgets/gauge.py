"""Gauge: a radial dial with the normal range and alarm ranges, for a quick glance."""

from __future__ import annotations

from PySide6.QtCore import Property, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QWidget

from hmi.qt.format import format_value
from hmi.qt.look import (
    ALARM_COLOURS,
    LINE,
    NORMAL_BAND,
    PANEL,
    VALUE,
)
from hmi.qt.registry import register_widget
from hmi.widgets.base import TagWidget
from hmi.widgets.scale import display_range, fraction

#: the dial sweeps 240 degrees, from 210 (lower left) clockwise to -30 (lower right)
_START, _SPAN = 210.0, -240.0


@register_widget("Radial gauge with normal and alarm ranges", width=140, height=130)
class Gauge(TagWidget):
    """A dial from ``minimum`` to ``maximum`` (default: the tag's limits).

    The alarm ranges come from the tag's alarm limits (drawn thin, in the priority colour);
    the value is written under the needle so the dial never has to be read precisely.
    """

    HINT = QSize(140, 130)
    MARKS_ALARMS = True

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._minimum = 0.0
        self._maximum = 0.0

    def _get_minimum(self) -> float:
        return self._minimum

    def _set_minimum(self, value: float) -> None:
        self._minimum = value
        self.update()

    def _get_maximum(self) -> float:
        return self._maximum

    def _set_maximum(self, value: float) -> None:
        self._maximum = value
        self.update()

    minimum = Property(float, _get_minimum, _set_minimum, doc="scale start (min=max: tag limits)")
    maximum = Property(float, _get_maximum, _set_maximum, doc="scale end (min=max: tag limits)")

    def _angle(self, f: float) -> float:
        return _START + _SPAN * f

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """Dial, ranges, needle and value."""
        tag, sample = self.tag_def, self.sample
        low, high = display_range(tag, self._minimum, self._maximum)
        side = min(rect.width(), rect.height() * 1.15) - 12
        dial = QRectF(0, 0, side, side)
        dial.moveCenter(QPointF(rect.center().x(), rect.top() + 6 + side / 2))
        painter.setPen(QPen(PANEL.darker(115), 10, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
        painter.drawArc(dial, int(_START * 16), int(_SPAN * 16))
        alarms = tag.alarms if tag is not None else None
        if alarms is not None:
            lo = alarms.lo if alarms.lo is not None else alarms.lolo
            hi = alarms.hi if alarms.hi is not None else alarms.hihi
            f_lo = fraction(lo, low, high) if lo is not None else 0.0
            f_hi = fraction(hi, low, high) if hi is not None else 1.0
            painter.setPen(QPen(NORMAL_BAND, 10, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
            a = self._angle(f_lo or 0.0)
            painter.drawArc(dial, int(a * 16), int((self._angle(f_hi or 1.0) - a) * 16))
            colour = ALARM_COLOURS.get(alarms.priority, ALARM_COLOURS[3])
            painter.setPen(QPen(colour, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
            outer = dial.adjusted(-7, -7, 7, 7)
            if hi is not None and f_hi is not None:
                a = self._angle(f_hi)
                painter.drawArc(outer, int(a * 16), int((self._angle(1.0) - a) * 16))
            if lo is not None and f_lo is not None:
                painter.drawArc(outer, int(_START * 16), int((self._angle(f_lo) - _START) * 16))
        f = fraction(sample.value, low, high)
        if f is not None:
            painter.save()
            painter.translate(dial.center())
            painter.rotate(-self._angle(f))
            painter.setPen(QPen(VALUE, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.drawLine(QPointF(0, 0), QPointF(side / 2 - 4, 0))
            painter.restore()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(LINE)
        painter.drawEllipse(dial.center(), 4, 4)
        painter.setPen(VALUE)
        painter.setFont(self.value_font(13))
        text_box = QRectF(rect.left(), dial.center().y() + side * 0.18, rect.width(), 18)
        painter.drawText(
            text_box, Qt.AlignmentFlag.AlignCenter, format_value(sample.value, tag, with_unit=True)
        )
        painter.setPen(LINE)
        painter.setFont(self.value_font(9, bold=False))
        scale_box = QRectF(rect.left() + 4, rect.bottom() - 14, rect.width() - 8, 12)
        painter.drawText(scale_box, Qt.AlignmentFlag.AlignLeft, f"{low:g}")
        painter.drawText(scale_box, Qt.AlignmentFlag.AlignRight, f"{high:g}")
