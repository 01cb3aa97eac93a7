"""What writing widgets share: typed values from text, and the state of the last command."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from hmi.core.command import CommandResult, CommandState
from hmi.core.sample import Value
from hmi.core.tag import DataType, Tag

_TRUE = {"1", "true", "on", "yes", "open", "start", "run"}
_FALSE = {"0", "false", "off", "no", "close", "closed", "stop"}

#: the colour of a command's outcome (pending is neutral: the plant has not answered yet)
OUTCOME_COLOURS = {
    CommandState.PENDING: QColor("#4a4a4a"),
    CommandState.REJECTED: QColor("#d40000"),
    CommandState.FAILED: QColor("#d40000"),
    CommandState.TIMED_OUT: QColor("#d40000"),
}


def coerce_value(text: str, tag: Tag | None) -> Value:
    """``text`` as the tag's data type; raises ValueError with an operator-facing message."""
    text = text.strip()
    kind = tag.data_type if tag is not None else DataType.FLOAT64
    if kind is DataType.BOOL:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{text!r} is not on/off")
    if kind is DataType.STRING:
        return text
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if kind in (DataType.FLOAT32, DataType.FLOAT64):
        return number
    if not number.is_integer():
        raise ValueError(f"{text!r} is not a whole number")
    return int(number)


def check_limits(value: Value, tag: Tag | None) -> str:
    """Why ``value`` is outside the tag's limits, or ``""`` when it is inside."""
    if tag is None or isinstance(value, bool | str) or value is None:
        return ""
    if not tag.limits.contains(float(value)):
        low = "-inf" if tag.limits.low is None else f"{tag.limits.low:g}"
        high = "inf" if tag.limits.high is None else f"{tag.limits.high:g}"
        return f"{value:g} is outside {low} .. {high} {tag.unit}".rstrip()
    return ""


class WriteStatus:
    """The outcome of a widget's last command, drawn as a frame and told in the tooltip."""

    def __init__(self) -> None:
        self.state: CommandState | None = None
        self.message = ""

    def pending(self) -> None:
        """A command was sent."""
        self.state, self.message = CommandState.PENDING, "sent, waiting for the plant"

    def done(self, result: CommandResult) -> None:
        """The result came back."""
        self.state = result.state
        self.message = result.message or result.state.value.replace("_", " ")

    def local_reject(self, message: str) -> None:
        """Refused before sending (bad input, outside limits)."""
        self.state, self.message = CommandState.REJECTED, message

    @property
    def text(self) -> str:
        """``"pending: sent, ..."`` / ``"rejected: ..."``; ``""`` when nothing to say."""
        if self.state is None or self.state is CommandState.CONFIRMED:
            return ""
        return f"{self.state.value.replace('_', ' ')}: {self.message}"

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """A dotted frame while pending, a solid red one after a refusal or failure."""
        colour = OUTCOME_COLOURS.get(self.state) if self.state is not None else None
        if colour is None:
            return
        painter.save()
        style = Qt.PenStyle.DotLine if self.state is CommandState.PENDING else Qt.PenStyle.SolidLine
        painter.setPen(QPen(colour, 2, style))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect.adjusted(1, 1, -1, -1))
        painter.restore()
