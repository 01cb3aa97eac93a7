"""SetpointEntry: type a new value, see it go pending -> confirmed / rejected / failed /
timed out / overridden, in words on its status line."""

from __future__ import annotations

from PySide6.QtCore import Property, QEvent, QObject, QRectF, QSize, Qt
from PySide6.QtGui import QEnterEvent, QKeyEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QWidget

from hmi.core.command import CommandResult, CommandState
from hmi.core.sample import Sample, Value
from hmi.qt.designer_preview import attach_preview
from hmi.qt.format import format_value
from hmi.qt.link import TagLink
from hmi.qt.look import QualityOverlay, describe_sample
from hmi.qt.registry import register_widget
from hmi.qt.status_line import StatusLine
from hmi.qt.write import WriteStatus, check_limits, coerce_value

_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
#: events by which the operator takes the field (from then on, values wait)
_TAKES_THE_FIELD = (
    QEvent.Type.FocusIn,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.KeyPress,
)


class SetpointEditor(QLineEdit):
    """The entry's text field: Enter writes, and goes no further.

    QLineEdit passes Enter on to its window after ``returnPressed``; in a faceplate (a
    dialog) that would click the dialog's default button as well: one key, two commands.
    """

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter is the entry's own: accepted here, never passed to the window."""
        super().keyPressEvent(event)
        if event.key() in _ENTER:
            event.accept()


@register_widget("Setpoint entry with limits and write feedback", width=170, height=30)
class SetpointEntry(QWidget):
    """An entry showing the tag's value; Enter writes the typed value (and nothing else).

    Input is checked against the tag's type and limits before anything is sent; a value
    refused here says why on the status line ("Not sent: 9 is outside 0.5 .. 4.5 m").
    While the command is pending the entry keeps the typed value in a dotted frame and its
    status line says so; once answered it shows the device's value again (never the value
    written) and the line says how it went: confirmed, or rejected, failed, timed out (a
    red frame) or overridden by the device (an orange frame), with the reason. Between
    writes the entry follows the tag, unless the operator is typing in it.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tag = ""
        self._format = ""
        self.status = WriteStatus()
        self._line: StatusLine | None = None
        #: the operator is at work in the field (clicked, focused, typed) since it last
        #: showed the tag's value: new values wait, or they would scramble the typing
        self._typing = False
        self.tag_link = TagLink(self, lambda: [self._tag], self._on_sample, self._on_session)
        self.editor = SetpointEditor(self)
        self.editor.setObjectName("SetpointEditor")
        self.editor.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.unit = QLabel(self)
        self.unit.setObjectName("SetpointUnit")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(4)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.unit)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._overlay = QualityOverlay(self.editor)
        self.editor.installEventFilter(self)
        self.editor.returnPressed.connect(self.submit)
        self.editor.textEdited.connect(self._on_typed)
        self.editor.editingFinished.connect(self._on_editing_finished)
        self._on_session()
        attach_preview(self.tag_link)  # Designer's design-time look (no-op elsewhere)

    # -- properties ----------------------------------------------------------------------
    def _get_tag(self) -> str:
        return self._tag

    def _set_tag(self, name: str) -> None:
        self._tag = name.strip()
        self.tag_link.refresh()

    def _get_format(self) -> str:
        return self._format

    def _set_format(self, spec: str) -> None:
        self._format = spec

    tag = Property(str, _get_tag, _set_tag, doc="the tag written")
    format = Property(str, _get_format, _set_format, doc="format spec (default: the tag's)")

    def sizeHint(self) -> QSize:
        """Fixed size."""
        return QSize(170, 30)

    @property
    def status_text(self) -> str:
        """The last command's state in words (``confirmed``, ``failed: ...``), ``""`` when
        there is none or its line has cleared."""
        return self.status.text

    @property
    def status_line(self) -> StatusLine:
        """The line under the entry that says how the last write went."""
        if self._line is None:
            self._line = StatusLine(self)
            self._line.faded.connect(self._on_faded)
        return self._line

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The operator takes the field (a click, the focus, a key): values wait."""
        if watched is self.editor and event.type() in _TAKES_THE_FIELD:
            self._typing = True
        return False

    # -- data ----------------------------------------------------------------------------
    def _on_sample(self, name: str, sample: Sample) -> None:
        # Never overwrite what the operator is typing or what is waiting for an answer;
        # otherwise (after an answer too, though the field keeps the focus) the entry
        # shows the device's value.
        if not self._typing and self.status.state is not CommandState.PENDING:
            self._show_value(sample)
        if sample.quality != self._overlay.quality:
            self._update_tooltip()
        self.update()

    def _show_value(self, sample: Sample) -> None:
        self._show(sample.value)

    def _show(self, value: Value) -> None:
        tag = self.tag_link.tag(self._tag)
        self._typing = False
        self.editor.setText(format_value(value, tag, self._format))
        self.unit.setText(tag.unit if tag is not None else "")

    def _on_session(self) -> None:
        denied = self.tag_link.write_denied(self._tag)
        self.editor.setReadOnly(bool(denied))
        shape = Qt.CursorShape.ForbiddenCursor if denied else Qt.CursorShape.IBeamCursor
        self.editor.setCursor(shape)
        self._update_tooltip()
        if self.tag_link.attached:
            self._show_value(self.tag_link.sample(self._tag))

    def enterEvent(self, event: QEnterEvent) -> None:
        """The pointer came over it: its tooltip says the value of now, not of its last
        quality change (kept current here rather than on every sample)."""
        self._update_tooltip()
        super().enterEvent(event)

    def _update_tooltip(self) -> None:
        sample = self.tag_link.sample(self._tag)
        tip = describe_sample(self._tag, self.tag_link.tag(self._tag), sample)
        denied = self.tag_link.write_denied(self._tag)
        if denied:
            tip += f"\nRead only: {denied}"
        if self.status.text:
            tip += f"\nLast command: {self.status.text}"
        self.setToolTip(tip)
        self.editor.setToolTip(tip)
        self._overlay.set_state(sample.quality, 0)

    # -- writing -------------------------------------------------------------------------
    def submit(self) -> bool:
        """Write the typed value; False when refused before sending."""
        if self.tag_link.write_denied(self._tag):
            self._on_session()
            return False
        tag = self.tag_link.tag(self._tag)
        try:
            value = coerce_value(self.editor.text(), tag)
        except ValueError as exc:
            return self._refuse(str(exc))
        problem = check_limits(value, tag)
        if problem:
            return self._refuse(problem)
        self.status.pending(format_value(value, tag, self._format, with_unit=True))
        self._show_status()
        self.tag_link.write(self._tag, value, on_result=self._on_result)
        return True

    def _refuse(self, message: str) -> bool:
        self.status.local_reject(message)
        self._show_value(self.tag_link.sample(self._tag))
        self._show_status()
        return False

    def _on_result(self, result: CommandResult) -> None:
        # The device's value, never the one written: the driver's read-back (what the
        # device holds after its settle time, or instead of the value written), else the
        # tag's latest sample. A confirmation names the value the device confirmed.
        device = result.state in (CommandState.CONFIRMED, CommandState.OVERRIDDEN)
        if device and result.value is not None:
            tag = self.tag_link.tag(self._tag)
            self.status.done(result, format_value(result.value, tag, self._format, with_unit=True))
            self._show(result.value)
        else:
            self.status.done(result)
            self._show_value(self.tag_link.sample(self._tag))
        self._show_status()

    def _show_status(self) -> None:
        self.status_line.show_outcome(self.status.state, self.status.line)
        self._update_tooltip()
        self.update()

    def _on_faded(self) -> None:
        self.status.clear()
        self._update_tooltip()
        self.update()

    def _on_typed(self, text: str) -> None:
        """The next entry begins: a finished outcome has been read, its line clears."""
        self._typing = True
        if self.status.state is not None and self.status.state is not CommandState.PENDING:
            self.status.clear()
            self.status_line.clear()
            self._update_tooltip()
            self.update()

    def _on_editing_finished(self) -> None:
        # Left without Enter (focus elsewhere): the typed text was not sent, so the
        # device's value comes back rather than a number that looks written.
        if not self.editor.hasFocus() and self.status.state is not CommandState.PENDING:
            self._show_value(self.tag_link.sample(self._tag))

    def paintEvent(self, event: QPaintEvent) -> None:
        """The command outcome as a frame around the entry (quality: the editor's overlay)."""
        super().paintEvent(event)
        painter = QPainter(self)
        self.status.paint(painter, QRectF(self.rect()))
        painter.end()
