"""What writing controls share (our write widgets and bound stock buttons): typed values
from text, and the state of the last command."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from hmi.core.command import CommandResult, CommandState
from hmi.core.sample import Value
from hmi.core.tag import DataType, Tag

_TRUE = {"1", "true", "on", "yes", "open", "start", "run"}
_FALSE = {"0", "false", "off", "no", "close", "closed", "stop"}

#: the colour of a command's outcome (pending is neutral: the plant has not answered yet;
#: confirmed draws no frame, only its status line)
OUTCOME_COLOURS = {
    CommandState.PENDING: QColor("#4a4a4a"),
    CommandState.REJECTED: QColor("#d40000"),
    CommandState.FAILED: QColor("#d40000"),
    CommandState.TIMED_OUT: QColor("#d40000"),
    CommandState.OVERRIDDEN: QColor("#c86400"),
}
#: an outcome in words (the state's own name is an identifier)
STATE_WORDS = {
    CommandState.PENDING: "pending",
    CommandState.CONFIRMED: "confirmed",
    CommandState.REJECTED: "rejected",
    CommandState.FAILED: "failed",
    CommandState.TIMED_OUT: "timed out",
    CommandState.OVERRIDDEN: "overridden",
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


def same_value(a: Value, b: Value) -> bool:
    """True when ``a`` and ``b`` are the same value of a tag (a float32 register's 2.5 is
    the 2.5 typed; a bool is its 0/1)."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, int | float) and isinstance(b, int | float):
            return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
        return False
    return a == b


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
    """The outcome of a widget's last command: a frame around the widget, its status line
    (:class:`~hmi.qt.status_line.StatusLine`) and the tooltip's last line.

    ``what`` names what was written, as the operator knows it (``2.50 m``, ``Manual``).
    """

    def __init__(self) -> None:
        self.state: CommandState | None = None
        self.message = ""
        self.what = ""
        #: the command was refused here, before it was sent (bad input, outside limits)
        self.local = False

    def pending(self, what: str = "") -> None:
        """A command was sent."""
        self.state, self.message, self.what, self.local = (
            CommandState.PENDING,
            "sent, waiting for the plant",
            what,
            False,
        )

    def done(self, result: CommandResult, shown: str = "") -> None:
        """The result came back; ``shown`` is the device's value as the widget shows it
        (what a confirmation names), ``""`` to keep naming what was sent."""
        self.state = result.state
        self.message = result.message
        self.local = False
        if shown:
            self.what = shown

    def local_reject(self, message: str) -> None:
        """Refused before sending (bad input, outside limits)."""
        self.state, self.message, self.what, self.local = CommandState.REJECTED, message, "", True

    def clear(self) -> None:
        """Nothing to say any more (the line faded, or the operator types again)."""
        self.state, self.message, self.what, self.local = None, "", "", False

    @property
    def text(self) -> str:
        """``"pending: sent, ..."`` / ``"rejected: ..."`` / ``"confirmed"``; ``""`` when none."""
        if self.state is None:
            return ""
        words = STATE_WORDS[self.state]
        return f"{words}: {self.message}" if self.message else words

    @property
    def line(self) -> str:
        """What the status line beside the widget says, e.g. ``2.50 m sent, waiting for
        the plant``, ``2.50 m confirmed``, ``Overridden by device: reads 0.0 %``,
        ``Failed: device refused: ...``, ``Not sent: 9 is outside 0.5 .. 4.5 m``; ``""``
        when there is nothing to say. The line sits under the control that sent the
        command, so it names the control's value only where that says more."""
        state = self.state
        if state is None:
            return ""
        if self.local:
            return f"Not sent: {self.message}"
        if state is CommandState.PENDING:
            return f"{self.what} sent, waiting for the plant" if self.what else "Sent, waiting"
        if state is CommandState.CONFIRMED:
            note = f" ({self.message})" if self.message else ""
            return f"{self.what} confirmed{note}" if self.what else f"Confirmed{note}"
        words = STATE_WORDS[state]
        if self.message.startswith(words):
            return self.message[0].upper() + self.message[1:]  # "overridden by device: ..."
        text = f"{words}: {self.message}" if self.message else words
        return text[0].upper() + text[1:]

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """A dotted frame while pending, a solid red one after a refusal or failure, an
        orange one when the device overrode the command."""
        colour = OUTCOME_COLOURS.get(self.state) if self.state is not None else None
        if colour is None:
            return
        painter.save()
        style = Qt.PenStyle.DotLine if self.state is CommandState.PENDING else Qt.PenStyle.SolidLine
        painter.setPen(QPen(colour, 2, style))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect.adjusted(1, 1, -1, -1))
        painter.restore()
