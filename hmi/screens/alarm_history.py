"""The alarm history: journal rows for a time range and tag, and CSV export.

Rows come from the alarm engine's ``history`` RPC (through an injected async callable);
the CSV is written here, on the operator's machine, from the rows shown.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDateTime,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateTimeEdit,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.core.tag import Tag
from hmi.qt.format import format_value
from hmi.qt.tasks import OwnedTasks

#: ``(since, until, tag, limit) -> journal rows`` (transition dicts, time order)
FetchHistory = Callable[
    [float | None, float | None, str | None, int], Awaitable[list[dict[str, Any]]]
]

#: (title, key in a journal row); "actor" is who made the transition
COLUMNS = (
    ("Time", "time"),
    ("Tag", "tag"),
    ("Event", "event"),
    ("From", "previous"),
    ("To", "state"),
    ("Level", "level"),
    ("P", "priority"),
    ("Value", "value"),
    ("User", "actor"),
    ("Comment", "comment"),
    ("Message", "message"),
)
CSV_HEADER = ("time_iso", "time", *(key for _, key in COLUMNS[1:]))

Index = QModelIndex | QPersistentModelIndex


def iso_time(when: float) -> str:
    """Local time with its UTC offset, to the millisecond (what the CSV's first column holds)."""
    return dt.datetime.fromtimestamp(when).astimezone().isoformat(timespec="milliseconds")


def write_csv(path: str | Path, rows: Sequence[dict[str, Any]]) -> int:
    """Write ``rows`` as CSV to ``path``; returns how many. Raises OSError when it cannot."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        for row in rows:
            when = float(row.get("time", 0.0))
            value = row.get("value")
            writer.writerow(
                [
                    iso_time(when),
                    f"{when:.3f}",
                    *(
                        json.dumps(value) if key == "value" else row.get(key, "")
                        for _, key in COLUMNS[1:]
                    ),
                ]
            )
    return len(rows)


class HistoryTableModel(QAbstractTableModel):
    """Journal rows as a read-only table (a model: thousands of rows cost no widgets)."""

    def __init__(
        self, parent: QObject | None = None, tag_of: Callable[[str], Tag | None] | None = None
    ) -> None:
        super().__init__(parent)
        self.rows: list[dict[str, Any]] = []
        #: a row's tag, to show its value in the tag's format and unit (as the screens do)
        self.tag_of = tag_of

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Show ``rows`` (newest last, as the journal gives them)."""
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """One row per journal entry."""
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """:data:`COLUMNS`."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The cell's text."""
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        row = self.rows[index.row()]
        key = COLUMNS[index.column()][1]
        value = row.get(key)
        if key == "time" and isinstance(value, int | float):
            return dt.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        if key == "level" and value in ("NONE", "STATE"):
            return ""  # as in the summary: the message says what a discrete alarm means
        if key == "value" and value is not None:
            tag = self.tag_of(str(row.get("tag", ""))) if self.tag_of is not None else None
            return format_value(value, tag, with_unit=True)  # 6 digits at most without a tag
        return "" if value is None else str(value)


class AlarmHistoryDialog(QDialog):
    """From / to / tag / limit, a table of journal rows, Refresh and Export CSV."""

    def __init__(
        self,
        fetch: FetchHistory,
        parent: QWidget | None = None,
        *,
        now: Callable[[], float] | None = None,
        tag_of: Callable[[str], Tag | None] | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("AlarmHistory")
        self.setWindowTitle("Alarm history")
        self.resize(1300, 560)
        self._fetch = fetch
        # Tasks this dialog started: owned here, so none is lost or garbage collected.
        self._tasks = OwnedTasks("alarm history")
        self._now = now or time.time
        self.since = QDateTimeEdit(self)
        self.until = QDateTimeEdit(self)
        self.show_last(86400.0)
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        self.tag = QLineEdit(self)
        self.tag.setPlaceholderText("all tags (or one exact tag name)")
        self.limit = QSpinBox(self)
        self.limit.setRange(1, 100_000)
        self.limit.setValue(10_000)
        self.limit.setPrefix("max ")
        refresh = QPushButton("Refresh", self)
        self.export_button = QPushButton("Export CSV ...", self)
        bar = QHBoxLayout()
        for label, widget in (("From", self.since), ("to", self.until), ("Tag", self.tag)):
            bar.addWidget(QLabel(label, self))
            bar.addWidget(widget)
        bar.addWidget(self.limit)
        bar.addWidget(refresh)
        self.model = HistoryTableModel(self, tag_of=tag_of)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate((180, 180, 95, 135, 135, 48, 28, 60, 80, 110)):
            self.table.setColumnWidth(column, width)
        #: what was loaded or written (plain), and what went wrong (red, #AlarmMessage)
        self.message = QLabel(self)
        self.error = QLabel(self)
        self.error.setObjectName("AlarmMessage")
        self.error.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.message)
        bottom.addWidget(self.error, 1)
        bottom.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        refresh.clicked.connect(lambda: self._spawn(self.refresh()))
        self.export_button.clicked.connect(self._ask_export)

    def show_last(self, seconds: float) -> None:
        """Set the range to the last ``seconds`` up to now (and a minute on, for clock skew)."""
        end = QDateTime.fromSecsSinceEpoch(int(self._now()))
        self.since.setDateTime(end.addSecs(-int(seconds)))
        self.until.setDateTime(end.addSecs(60))

    async def refresh(self) -> int:
        """Fetch the rows for the chosen range and tag; returns how many (0 on error)."""
        since = float(self.since.dateTime().toSecsSinceEpoch())
        until = float(self.until.dateTime().toSecsSinceEpoch())
        tag = self.tag.text().strip() or None
        try:
            rows = await self._fetch(since, until, tag, self.limit.value())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._say("", f"Could not load the alarm history: {exc}")
            return 0
        self.model.set_rows(rows)
        full = (
            " (the limit: narrow the range to see the rest)"
            if len(rows) >= self.limit.value()
            else ""
        )
        self._say(f"{len(rows)} journal rows{full}")
        return len(rows)

    def export(self, path: str | Path) -> int:
        """Write the rows shown to ``path`` as CSV; the count, or -1 with the reason shown."""
        try:
            count = write_csv(path, self.model.rows)
        except OSError as exc:
            self._say(self.message.text(), f"Could not write {path}: {exc.strerror or exc}")
            return -1
        self._say(f"{count} rows exported to {path}")
        return count

    def _say(self, info: str, error: str = "") -> None:
        self.message.setText(info)
        self.error.setText(error)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export alarm history", "alarm-history.csv", "CSV (*.csv)"
        )
        if path:
            self.export(path)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(coro)
