"""Asks an operator why and for how long to shelve alarms (ISA-18.2: both are required)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

#: what the duration box offers first: long enough for a repair, short of a shift
DEFAULT_MINUTES = 60


class ShelveDialog(QDialog):
    """Reason (required) and duration in minutes, bounded by the engine's maximum."""

    def __init__(self, tags: list[str], max_seconds: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Shelve alarms")
        self.tags = list(tags)
        self.reason = QLineEdit(self)
        self.reason.setPlaceholderText("why, e.g. transmitter under repair (WO 4711)")
        # The example reads in full (a cut "why, e.g. transmitter ..." says little), and a
        # reason as long has room.
        hint = self.reason.fontMetrics().horizontalAdvance(self.reason.placeholderText())
        self.reason.setMinimumWidth(hint + 24)
        self.minutes = QSpinBox(self)
        top = max(1, int(max_seconds // 60))
        self.minutes.setRange(1, top)
        self.minutes.setValue(min(DEFAULT_MINUTES, top))
        self.minutes.setSuffix(" min")
        self.minutes.setToolTip(f"At most {top} min ({top / 60:g} h): the alarm engine's limit")
        shown = ", ".join(self.tags[:5]) + (
            f" and {len(self.tags) - 5} more" if len(tags) > 5 else ""
        )
        form = QFormLayout(self)
        form.addRow(QLabel(f"Shelve {len(self.tags)} alarm(s): {shown}", self))
        form.addRow("Reason", self.reason)
        form.addRow("Duration", self.minutes)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.reason.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        # No shelving without a reason: the OK button stays off until one is typed.
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.reason.text().strip()))

    @property
    def duration(self) -> float:
        """The chosen duration in seconds."""
        return float(self.minutes.value() * 60)

    @property
    def reason_text(self) -> str:
        """The reason typed, trimmed."""
        return self.reason.text().strip()
