"""What Valve and Pump share: a running/open feedback tag, a fault tag, a faceplate to open."""

from __future__ import annotations

from PySide6.QtCore import Property, QRectF, Qt
from PySide6.QtGui import QMouseEvent, QPainter
from PySide6.QtWidgets import QWidget

from hmi.qt.look import NO_MARK, TEXT, VALUE, AlarmMark, paint_alarm_mark
from hmi.widgets.base import TagWidget


def parse_macros(text: str) -> dict[str, str]:
    """``"DEV=area1/p101, NAME=P-101"`` -> ``{"DEV": "area1/p101", "NAME": "P-101"}``."""
    macros = {}
    for part in text.replace(";", ",").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            macros[key.strip()] = value.strip()
    return macros


class EquipmentWidget(TagWidget):
    """A symbol with a state tag (``tag``), an optional ``faultTag`` and a ``faceplate``
    opened as a popup with ``macros`` when clicked (the usual way to operate equipment)."""

    MARKS_ALARMS = True

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fault_tag = ""
        self._faceplate = ""
        self._macros = ""
        self._label = ""

    def _get_fault_tag(self) -> str:
        return self._fault_tag

    def _set_fault_tag(self, name: str) -> None:
        self._fault_tag = name.strip()
        self.tag_link.refresh()
        self.update()

    def _get_faceplate(self) -> str:
        return self._faceplate

    def _set_faceplate(self, name: str) -> None:
        self._faceplate = name.strip()
        self.setCursor(Qt.CursorShape.PointingHandCursor if name else Qt.CursorShape.ArrowCursor)

    def _get_macros(self) -> str:
        return self._macros

    def _set_macros(self, text: str) -> None:
        self._macros = text

    def _get_label(self) -> str:
        return self._label

    def _set_label(self, text: str) -> None:
        self._label = text
        self.update()

    faultTag = Property(str, _get_fault_tag, _set_fault_tag, doc="tag that is true on a fault/trip")
    faceplate = Property(
        str, _get_faceplate, _set_faceplate, doc="screen opened as a popup on click"
    )
    macros = Property(str, _get_macros, _set_macros, doc="macros for the faceplate, K=V, K=V")
    label = Property(str, _get_label, _set_label, doc="equipment name drawn under the symbol")

    def tag_names(self) -> list[str]:
        """The state tag and the fault tag."""
        return [self._tag, self._fault_tag]

    def faulted(self) -> bool:
        """True while the fault tag is true."""
        return bool(self._fault_tag and self.tag_link.sample(self._fault_tag).value)

    def paint_caption(self, painter: QPainter, rect: QRectF, top: float, state: str) -> None:
        """Below the symbol: the state text, the equipment label; top left: the alarm mark
        of the fault tag (the engine's; priority 2 when faulted without an alarm definition)."""
        painter.setPen(VALUE)
        painter.setFont(self.value_font(11))
        painter.drawText(
            QRectF(rect.left(), top + 2, rect.width(), 16), Qt.AlignmentFlag.AlignCenter, state
        )
        if self._label:
            painter.setPen(TEXT)
            painter.setFont(self.value_font(10, bold=False))
            painter.drawText(
                QRectF(rect.left(), top + 18, rect.width(), 14),
                Qt.AlignmentFlag.AlignCenter,
                self._label,
            )
        paint_alarm_mark(
            painter, QRectF(rect.left() + 2, rect.top() + 2, 15, 15), self.fault_mark()
        )

    def fault_mark(self) -> AlarmMark:
        """The fault tag's alarm as the engine sees it (shelved: none); a fault tag with no
        alarm defined marks priority 2 while true (no engine would ever raise it)."""
        fault = self.tag_link.tag(self._fault_tag)
        if fault is not None and fault.alarms is not None:
            return self.tag_link.alarm_mark(self._fault_tag)
        return AlarmMark(2) if self.faulted() else NO_MARK

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Open the faceplate."""
        context = self.tag_link.context
        if (
            self._faceplate
            and context is not None
            and event.button() == Qt.MouseButton.LeftButton
            and self.rect().contains(event.position().toPoint())
        ):
            context.navigate(self._faceplate, parse_macros(self._macros), popup=True)
        super().mouseReleaseEvent(event)
