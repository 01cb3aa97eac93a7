"""The audit trail as an operator or auditor sees it: a table, and CSV export."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

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
#: writes the whole trail as CSV to a path on the backend's machine; returns the row count
Export = Callable[[str], Coroutine[Any, Any, int]]


class AuditDialog(QDialog):
    """Lists audit rows, newest first; Refresh and Export CSV."""

    def __init__(self, fetch: Fetch, export: Export, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audit trail")
        self.resize(1100, 500)
        self._fetch = fetch
        self._export = export
        # Tasks this dialog started: owned here, so none is lost or garbage collected.
        self._tasks = OwnedTasks("audit trail")
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels([c.replace("_", " ") for c in COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        refresh = QPushButton("Refresh", self)
        export_button = QPushButton("Export CSV ...", self)
        refresh.clicked.connect(lambda: self._spawn(self.refresh()))
        export_button.clicked.connect(self._ask_export)
        buttons = QHBoxLayout()
        buttons.addWidget(refresh)
        buttons.addWidget(export_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    async def refresh(self) -> None:
        """Load the rows again."""
        self.show_rows(await self._fetch())

    def show_rows(self, rows: list[dict[str, Any]]) -> None:
        """Fill the table, newest first."""
        self.table.setRowCount(len(rows))
        for r, row in enumerate(reversed(rows)):
            for c, column in enumerate(COLUMNS):
                value = row.get(column)
                if column == "time" and isinstance(value, int | float):
                    text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
                else:
                    text = "" if value is None else str(value)
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export audit trail", "audit.csv", "CSV (*.csv)"
        )
        if path:
            self._spawn(self._export(path))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(coro)
