"""Asks an engineer why alarms leave service or return to it (the reason is journalled).

Out of service is maintenance: the alarm is hidden from operators until an engineer puts
it back, so the journal must say who and why. With nothing selected in the summary (an
alarm that is normal is not listed there), the engineer picks the alarm by its tag.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)


class ServiceDialog(QDialog):
    """Reason (required) for removing ``tags`` from service, or returning them.

    Without ``tags`` an editable list of ``choices`` asks which alarm.
    """

    def __init__(
        self,
        tags: list[str],
        *,
        remove: bool,
        choices: list[str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.remove = remove
        what = "Remove from service" if remove else "Return to service"
        self.setWindowTitle(f"{what}")
        self._tags = list(tags)
        self.reason = QLineEdit(self)
        self.reason.setPlaceholderText(
            "why, e.g. transmitter replaced under WO 4711" if remove else "why, e.g. repaired"
        )
        form = QFormLayout(self)
        self.tag_choice: QComboBox | None = None
        if self._tags:
            shown = ", ".join(self._tags[:5]) + (
                f" and {len(self._tags) - 5} more" if len(self._tags) > 5 else ""
            )
            form.addRow(QLabel(f"{what}: {len(self._tags)} alarm(s): {shown}", self))
        else:
            self.tag_choice = QComboBox(self)
            self.tag_choice.setEditable(True)
            self.tag_choice.addItems(sorted(choices or []))
            self.tag_choice.setCurrentIndex(-1)
            self.tag_choice.setMinimumWidth(320)
            form.addRow("Alarm (tag)", self.tag_choice)
            self.tag_choice.currentTextChanged.connect(self._check)
        if remove:
            form.addRow(
                QLabel("Operators will not see this alarm until it is returned to service.", self)
            )
        form.addRow("Reason", self.reason)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(what)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.reason.textChanged.connect(self._check)
        self._check()

    @property
    def tags(self) -> list[str]:
        """The alarms chosen: the selection, or the one tag typed or picked."""
        if self.tag_choice is not None:
            tag = self.tag_choice.currentText().strip()
            return [tag] if tag else []
        return list(self._tags)

    @property
    def reason_text(self) -> str:
        """The reason typed, trimmed."""
        return self.reason.text().strip()

    def _check(self, *_: object) -> None:
        # Nothing leaves service without a reason and an alarm.
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.reason_text and self.tags))
