"""SetpointEntry: type a new value, see it go pending -> confirmed / rejected / failed."""

from __future__ import annotations

from PySide6.QtCore import Property, QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QWidget

from hmi.core.command import CommandResult, CommandState
from hmi.core.sample import Sample
from hmi.qt.designer_preview import attach_preview
from hmi.qt.format import format_value
from hmi.qt.link import TagLink
from hmi.qt.look import QualityOverlay, describe_sample
from hmi.qt.registry import register_widget
from hmi.widgets.write import WriteStatus, check_limits, coerce_value


@register_widget("Setpoint entry with limits and write feedback", width=170, height=30)
class SetpointEntry(QWidget):
    """An entry showing the tag's value; Enter writes the typed value.

    Input is checked against the tag's type and limits before anything is sent. While
    the command is pending the entry keeps the typed value in a dotted frame; when it is
    confirmed it follows the tag again; a rejection, failure or timeout shows a red frame,
    the reason in ``status_text`` (and the tooltip), and the tag's real value returns.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tag = ""
        self._format = ""
        self.status = WriteStatus()
        self.tag_link = TagLink(self, lambda: [self._tag], self._on_sample, self._on_session)
        self.editor = QLineEdit(self)
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
        self.editor.returnPressed.connect(self.submit)
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
        """The last command's state in words, ``""`` when confirmed or none."""
        return self.status.text

    # -- data ----------------------------------------------------------------------------
    def _on_sample(self, name: str, sample: Sample) -> None:
        # Never overwrite what the operator is typing or what is waiting for an answer.
        if not self.editor.hasFocus() and self.status.state is not CommandState.PENDING:
            self._show_value(sample)
        if sample.quality != self._overlay.quality:
            self._update_tooltip()
        self.update()

    def _show_value(self, sample: Sample) -> None:
        tag = self.tag_link.tag(self._tag)
        self.editor.setText(format_value(sample.value, tag, self._format))
        self.unit.setText(tag.unit if tag is not None else "")

    def _on_session(self) -> None:
        denied = self.tag_link.write_denied(self._tag)
        self.editor.setReadOnly(bool(denied))
        shape = Qt.CursorShape.ForbiddenCursor if denied else Qt.CursorShape.IBeamCursor
        self.editor.setCursor(shape)
        self._update_tooltip()
        if self.tag_link.attached:
            self._show_value(self.tag_link.sample(self._tag))

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
        self.status.pending()
        self.tag_link.write(self._tag, value, on_result=self._on_result)
        self._update_tooltip()
        self.update()
        return True

    def _refuse(self, message: str) -> bool:
        self.status.local_reject(message)
        self._update_tooltip()
        self._show_value(self.tag_link.sample(self._tag))
        self.update()
        return False

    def _on_result(self, result: CommandResult) -> None:
        self.status.done(result)
        self._show_value(self.tag_link.sample(self._tag))
        if result.state is CommandState.CONFIRMED and result.value is not None:
            tag = self.tag_link.tag(self._tag)
            self.editor.setText(format_value(result.value, tag, self._format))
        self._update_tooltip()
        self.update()

    def _on_editing_finished(self) -> None:
        if not self.editor.hasFocus() and self.status.state is not CommandState.PENDING:
            self._show_value(self.tag_link.sample(self._tag))

    def paintEvent(self, event: QPaintEvent) -> None:
        """The command outcome as a frame around the entry (quality: the editor's overlay)."""
        super().paintEvent(event)
        painter = QPainter(self)
        self.status.paint(painter, QRectF(self.rect()))
        painter.end()
