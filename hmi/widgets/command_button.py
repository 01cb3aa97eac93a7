"""CommandButton: start/stop, open/close, reset: a momentary, toggle or set-value write.

One click, one command: the button is never a dialog's default (Enter in a faceplate's
setpoint field must not click it), and a ``set`` button does not write the value its tag
already holds (a mode button pressed again, or by accident, sends nothing and says so).
"""

from __future__ import annotations

from PySide6.QtCore import Property, QRectF, QSize
from PySide6.QtGui import QEnterEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QMessageBox, QPushButton, QSizePolicy, QWidget

from hmi.core.command import CommandResult
from hmi.core.quality import Severity
from hmi.core.sample import Sample, Value
from hmi.qt.designer_preview import attach_preview
from hmi.qt.link import TagLink
from hmi.qt.look import describe_sample, paint_quality
from hmi.qt.registry import register_widget
from hmi.qt.status_line import StatusLine
from hmi.qt.write import WriteStatus, coerce_value, same_value

_MODES = ("set", "toggle", "momentary")


@register_widget(
    "Command button: set a value, toggle, or momentary; optional confirmation", width=100, height=32
)
class CommandButton(QPushButton):
    """Writes ``tag`` when clicked.

    ``mode``: ``set`` writes ``value`` (nothing when the tag, GOOD, holds it already);
    ``toggle`` writes the opposite of the tag's value; ``momentary`` writes ``value`` on
    press and its opposite on release. With ``confirm`` the operator confirms first. The
    outcome is said in words on the status line under the button (pending, confirmed,
    rejected, failed, timed out, overridden by the device, with the reason); the button
    also has a dotted frame while pending, a red one after a refusal or failure, an orange
    one when the device overrode the command.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tag = ""
        self._mode = "set"
        self._value = "1"
        self._confirm = False
        self._confirm_text = ""
        self.status = WriteStatus()
        self._line: StatusLine | None = None
        #: answers the confirmation dialog in tests (None: ask the operator)
        self.auto_confirm: bool | None = None
        self.tag_link = TagLink(self, lambda: [self._tag], self._on_sample, self._update_tooltip)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        # Never a dialog's default button: Enter elsewhere in a faceplate must not click it.
        self.setAutoDefault(False)
        self.setDefault(False)
        self.setText("Command")
        self.clicked.connect(self._on_clicked)
        attach_preview(self.tag_link)  # Designer's design-time look (no-op elsewhere)

    # -- properties ----------------------------------------------------------------------
    def _get_tag(self) -> str:
        return self._tag

    def _set_tag(self, name: str) -> None:
        self._tag = name.strip()
        self.tag_link.refresh()

    def _get_mode(self) -> str:
        return self._mode

    def _set_mode(self, mode: str) -> None:
        self._mode = mode if mode in _MODES else "set"
        self.setCheckable(False)

    def _get_value(self) -> str:
        return self._value

    def _set_value(self, value: str) -> None:
        self._value = value

    def _get_confirm(self) -> bool:
        return self._confirm

    def _set_confirm(self, confirm: bool) -> None:
        self._confirm = confirm

    def _get_confirm_text(self) -> str:
        return self._confirm_text

    def _set_confirm_text(self, text: str) -> None:
        self._confirm_text = text

    tag = Property(str, _get_tag, _set_tag, doc="the tag written")
    mode = Property(str, _get_mode, _set_mode, doc="set, toggle or momentary")
    value = Property(str, _get_value, _set_value, doc="value written in set/momentary mode")
    confirm = Property(bool, _get_confirm, _set_confirm, doc="ask the operator first")
    confirmText = Property(str, _get_confirm_text, _set_confirm_text, doc="confirmation question")

    def sizeHint(self) -> QSize:
        """Fixed: a pending marker never changes the size."""
        return QSize(max(100, super().sizeHint().width()), 32)

    @property
    def status_line(self) -> StatusLine:
        """The line under the button that says how its last command went."""
        if self._line is None:
            self._line = StatusLine(self)
            self._line.faded.connect(self._on_faded)
        return self._line

    # -- data ----------------------------------------------------------------------------
    def _on_sample(self, name: str, sample: Sample) -> None:
        self.update()

    def enterEvent(self, event: QEnterEvent) -> None:
        """The pointer came over it: its tooltip says the value of now, not of its last
        quality change (kept current here rather than on every sample)."""
        self._update_tooltip()
        super().enterEvent(event)

    def _update_tooltip(self) -> None:
        tip = describe_sample(
            self._tag, self.tag_link.tag(self._tag), self.tag_link.sample(self._tag)
        )
        denied = self.tag_link.write_cursor(self._tag)
        if denied:
            tip += f"\nRead only: {denied}"
        if self.status.text:
            tip += f"\nLast command: {self.status.text}"
        self.setToolTip(tip)

    # -- writing -------------------------------------------------------------------------
    def _set_point(self) -> Value:
        return coerce_value(self._value, self.tag_link.tag(self._tag))

    def press_value(self) -> Value:
        """What a click (or press) writes now."""
        if self._mode == "toggle":
            return not bool(self.tag_link.sample(self._tag).value)
        return self._set_point()

    def holds(self, value: Value) -> bool:
        """True when the tag's GOOD value is ``value`` already (writing it changes nothing).

        The store's latest sample, not the last one painted: a frame may be 30 ms old.
        """
        context = self.tag_link.context
        if context is None:
            return False
        sample = context.store.get(self._tag)
        if sample.quality.severity is not Severity.GOOD or sample.value is None:
            return False
        return same_value(sample.value, value)

    def send(self, value: Value) -> bool:
        """Write ``value`` (after confirmation); False when nothing was sent."""
        if self.tag_link.write_denied(self._tag):
            self._update_tooltip()
            return False
        if self._mode == "set" and self.holds(value):
            self.status_line.show_note(f"{self._what()} already in effect: nothing sent")
            return False
        if self._confirm and not self._confirmed(value):
            return False
        self.status.pending(self._what())
        self._show_status()
        command = self.tag_link.write(self._tag, value, on_result=self._on_result)
        return command is not None

    def _what(self) -> str:
        """What the operator asked for, in the button's words (``Manual``, ``Open``)."""
        return self.text().replace("&", "") or self._tag

    def _confirmed(self, value: Value) -> bool:
        if self.auto_confirm is not None:
            return self.auto_confirm
        question = self._confirm_text or f"Write {value!r} to {self._tag}?"
        answer = QMessageBox.question(self, "Confirm command", question)
        return answer == QMessageBox.StandardButton.Yes

    def _on_result(self, result: CommandResult) -> None:
        self.status.done(result)
        self._show_status()

    def _show_status(self) -> None:
        self.status_line.show_outcome(self.status.state, self.status.line)
        self._update_tooltip()
        self.update()

    def _on_faded(self) -> None:
        self.status.clear()
        self._update_tooltip()
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Momentary: write on press."""
        super().mousePressEvent(event)
        if self._mode == "momentary":
            self.send(self._set_point())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Momentary: write the opposite on release."""
        super().mouseReleaseEvent(event)
        if self._mode == "momentary":
            point = self._set_point()
            self.send(not point if isinstance(point, bool) else 0)

    def _on_clicked(self) -> None:
        if self._mode != "momentary":
            self.send(self.press_value())

    def paintEvent(self, event: QPaintEvent) -> None:
        """The button, then the command outcome and the tag's quality."""
        super().paintEvent(event)
        painter = QPainter(self)
        self.status.paint(painter, QRectF(self.rect()))
        paint_quality(painter, QRectF(self.rect()), self.tag_link.sample(self._tag).quality)
        painter.end()
