"""What Valve and Pump share: a running/open feedback tag, a fault tag, a faceplate to open."""

from __future__ import annotations

from PySide6.QtCore import Property, QRect, QRectF, Qt
from PySide6.QtGui import QMouseEvent, QPainter
from PySide6.QtWidgets import QWidget

from hmi.qt.look import NO_MARK, TEXT, VALUE, AlarmMark, mark_side
from hmi.widgets.base import TagWidget
from hmi.widgets.origin import navigate_from


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

    #: the symbol's height at the top of the widget; the caption (state, label) is below
    SYMBOL_HEIGHT = 58.0
    #: where process lines meet the symbol: its centre line, the same for every symbol
    #: (design units from the widget's top), so a pipe drawn at this height runs into a
    #: pump, a valve or a heater alike, well clear of the alarm mark above and the text below
    PORT_Y = 34.0
    #: the caption's height: state text and equipment label
    CAPTION_HEIGHT = 32.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fault_tag = ""
        self._faceplate = ""
        self._macros = ""
        self._label = ""
        self._fault_text = "TRIP"

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

    def _get_fault_text(self) -> str:
        return self._fault_text

    def _set_fault_text(self, text: str) -> None:
        self._fault_text = text
        self.update()

    faultTag = Property(str, _get_fault_tag, _set_fault_tag, doc="tag that is true on a fault/trip")
    faultText = Property(
        str, _get_fault_text, _set_fault_text, doc="state text while faulted (TRIP, INTLK ...)"
    )
    faceplate = Property(
        str, _get_faceplate, _set_faceplate, doc="screen opened as a popup on click"
    )
    macros = Property(str, _get_macros, _set_macros, doc="macros for the faceplate, K=V, K=V")
    label = Property(str, _get_label, _set_label, doc="equipment name drawn under the symbol")

    def tag_names(self) -> list[str]:
        """The state tag and the fault tag."""
        return [self._tag, self._fault_tag]

    @property
    def fault_text(self) -> str:
        """What the caption says while the fault tag is true."""
        return self._fault_text

    def faulted(self) -> bool:
        """True while the fault tag is true."""
        return bool(self._fault_tag and self.tag_link.sample(self._fault_tag).value)

    def symbol_rect(self, rect: QRectF) -> QRectF:
        """Where the symbol is drawn in ``rect`` (design units)."""
        return QRectF(rect.left(), rect.top(), rect.width(), self.SYMBOL_HEIGHT)

    def caption_rect(self, rect: QRectF) -> QRectF:
        """Where the state text and the label are drawn in ``rect`` (design units)."""
        top = rect.top() + self.SYMBOL_HEIGHT
        return QRectF(rect.left(), top, rect.width(), self.CAPTION_HEIGHT)

    def symbol_area(self) -> QRect:
        """The symbol, in widget pixels: process lines may run into it."""
        return self._pixels(self.symbol_rect(self._design_rect()))

    def caption_area(self) -> QRect:
        """The caption, in widget pixels: text no process line may cross."""
        return self._pixels(self.caption_rect(self._design_rect()))

    def _design_rect(self) -> QRectF:
        return QRectF(0, 0, self.width() / self.zoom, self.height() / self.zoom)

    def _pixels(self, rect: QRectF) -> QRect:
        z = self.zoom
        return QRectF(rect.x() * z, rect.y() * z, rect.width() * z, rect.height() * z).toRect()

    def paint_caption(self, painter: QPainter, rect: QRectF, state: str) -> None:
        """Below the symbol: the state text, then the equipment label."""
        caption = self.caption_rect(rect)
        painter.setPen(VALUE)
        painter.setFont(self.value_font(11))
        painter.drawText(
            QRectF(caption.left(), caption.top() + 1, caption.width(), 16),
            Qt.AlignmentFlag.AlignCenter,
            state,
        )
        if self._label:
            painter.setPen(TEXT)
            painter.setFont(self.value_font(10, bold=False))
            painter.drawText(
                QRectF(caption.left(), caption.top() + 17, caption.width(), 14),
                Qt.AlignmentFlag.AlignCenter,
                self._label,
            )

    def shown_mark(self) -> AlarmMark:
        """The fault tag's mark (the equipment's state is no alarm by itself)."""
        return self.fault_mark()

    def mark_box(self, rect: QRectF) -> QRectF:
        """Top left, above the process line and beside the symbol: never on a pipe."""
        side = mark_side(self.PORT_Y - 10)
        return QRectF(rect.left() + 2, rect.top() + 2, side, side)

    def port_y(self) -> int:
        """The symbol's centre line in widget pixels (where process lines meet it)."""
        return round(self.PORT_Y * self.zoom)

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
            navigate_from(self, context, self._faceplate, parse_macros(self._macros), popup=True)
        super().mouseReleaseEvent(event)
