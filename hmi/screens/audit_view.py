"""The audit trail as an operator or auditor sees it: a table, and CSV export.

Export saves the file on this machine (the backend returns the rows; it never writes a
file a caller names). Refusals (no ``read_audit`` / ``export_audit`` right) and failures
are shown under the table.

Old and new values read as the screens show them: with the tag's format and unit
(``3.20 m``, not the float32 register's ``3.200000047683716``), bools ``ON``/``OFF``. The
trail keeps the exact value: it is in the cell's tooltip and in the CSV export.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.core.tag import Tag
from hmi.qt.alarm_service import reason_of
from hmi.qt.format import format_value
from hmi.qt.tasks import OwnedTasks

COLUMNS = (
    "time",
    "user",
    "action",
    "target",
    "old_value",
    "new_value",
    "outcome",
    "reason",
    "node",
    "screen",
)
#: fetches the newest audit rows (dicts with COLUMNS) from the backend
Fetch = Callable[[], Coroutine[Any, Any, list[dict[str, Any]]]]
#: gets the trail from the backend and saves it as CSV at a path on *this* machine; returns
#: the row count
Export = Callable[[str], Coroutine[Any, Any, int]]
#: the columns holding a value of the row's target tag
VALUE_COLUMNS = frozenset({"old_value", "new_value"})


def _always() -> bool:
    return True


def _no_tag(name: str) -> Tag | None:
    return None


class AuditDialog(QDialog):
    """Lists audit rows, newest first; Refresh and Export CSV.

    ``may_export()`` says whether the user may export (the export button follows it; the
    backend decides anyway). ``tag_of(name)`` gives a target's tag, to show its values
    in its format and unit.
    """

    def __init__(
        self,
        fetch: Fetch,
        export: Export,
        parent: QWidget | None = None,
        *,
        may_export: Callable[[], bool] = _always,
        tag_of: Callable[[str], Tag | None] = _no_tag,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audit trail")
        self.resize(1100, 500)
        self._fetch = fetch
        self._export = export
        self._may_export = may_export
        self._tag_of = tag_of
        # Tasks this dialog started: owned here, so none is lost or garbage collected.
        self._tasks = OwnedTasks("audit trail")
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels([c.replace("_", " ") for c in COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        #: what the last refresh or export came to (a refusal, a failure, a count)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        refresh = QPushButton("Refresh", self)
        self.export_button = QPushButton("Export CSV ...", self)
        refresh.clicked.connect(lambda: self._spawn(self.refresh()))
        self.export_button.clicked.connect(self._ask_export)
        buttons = QHBoxLayout()
        buttons.addWidget(refresh)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._follow_rights()

    def _follow_rights(self) -> None:
        allowed = self._may_export()
        self.export_button.setEnabled(allowed)
        self.export_button.setToolTip("" if allowed else "Exporting needs export_audit")

    async def refresh(self) -> None:
        """Load the rows again (a refusal is shown, not raised)."""
        self._follow_rights()
        try:
            rows = await self._fetch()
        except Exception as exc:
            self.message.setText(f"Could not read the audit trail: {reason_of(exc)}")
            return
        self.message.setText("")
        self.show_rows(rows)

    async def export_to(self, path: str) -> None:
        """Export the trail to ``path`` on this machine (the outcome is shown)."""
        try:
            count = await self._export(path)
        except Exception as exc:
            self.message.setText(f"Could not export to {path}: {reason_of(exc)}")
            return
        self.message.setText(f"{count} rows exported to {path}")

    def show_rows(self, rows: list[dict[str, Any]]) -> None:
        """Fill the table, newest first."""
        self.table.setRowCount(len(rows))
        for r, row in enumerate(reversed(rows)):
            tag = self._tag_of(str(row.get("target") or ""))
            for c, column in enumerate(COLUMNS):
                value = row.get(column)
                exact = ""
                if column == "time" and isinstance(value, int | float):
                    text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
                elif column in VALUE_COLUMNS and value is not None and not isinstance(value, str):
                    text = format_value(value, tag, with_unit=True)
                    exact = str(value)
                else:
                    text = "" if value is None else str(value)
                item = QTableWidgetItem(text)
                if exact and exact != text:
                    item.setToolTip(f"recorded: {exact}")
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export audit trail", "audit.csv", "CSV (*.csv)"
        )
        if path:
            self._spawn(self.export_to(path))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(coro)
