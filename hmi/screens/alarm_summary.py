"""The alarm summary: every listed alarm, filtered and sorted, and what an operator does.

Acknowledge selected, shelve selected (reason and duration asked), unshelve selected, and
the alarm history; for engineers, remove from service and return to service (reason
asked). A line of KPIs from the engine sits under the filters. Requests go through the
session's :class:`~hmi.qt.alarms.AlarmModel`; a refusal (a viewer acknowledging, a wrong
state, an operator taking an alarm out of service) is shown under the table and in the
status bar, never swallowed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtCore import QItemSelection, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.core.alarms import AlarmState, AlarmStatus
from hmi.qt.alarm_table import (
    ACKED,
    PRIORITY,
    SHELVED,
    SINCE,
    STATE,
    STATE_FILTERS,
    STATE_TEXT,
    AlarmFilter,
    AlarmTableModel,
)
from hmi.qt.alarms import AlarmModel
from hmi.qt.context import HmiContext
from hmi.screens.alarm_kpis import AlarmKpiLine
from hmi.screens.service_dialog import ServiceDialog
from hmi.screens.shelve_dialog import ShelveDialog

#: widths of the columns before Note (P, Since, State, Level, Tag, Message, Value, Acked,
#: Shelved, By): the three times in full (date and time), so none is cut
_COLUMN_WIDTHS = (58, 150, 130, 56, 190, 240, 70, 150, 150, 80)
#: the window's first size: the columns above (times and states as wide as their bold
#: text needs) plus about 360 px of Note
SUMMARY_SIZE = QSize(1760, 640)

#: life-cycle states an operator may shelve from (and re-shelve a shelved alarm)
_SHELVABLE = {
    AlarmState.UNACKNOWLEDGED,
    AlarmState.ACKNOWLEDGED,
    AlarmState.RETURNED_UNACKNOWLEDGED,
    AlarmState.SHELVED,
}


class AlarmSummary(QWidget):
    """Filter bar, KPI line, table, action buttons and a message line, over ``alarms``.

    Follows the model only while shown (a hidden summary costs nothing per frame) and
    catches up when shown again. ``on_history`` is called by the History button. The
    engineers' buttons are shown to users whose roles (``session``) the engine's limits
    allow to remove alarms from service (all users while the engine has not said).
    """

    def __init__(
        self,
        alarms: AlarmModel,
        parent: QWidget | None = None,
        *,
        session: HmiContext | None = None,
    ) -> None:
        super().__init__(parent)
        self.alarms = alarms
        self.session = session
        self.source = AlarmTableModel(alarms, self, fill=False)  # filled when shown
        self.rows = AlarmFilter(self.source, self)
        self.on_history: Callable[[], object] | None = None
        self._following = False

        self.text_filter = QLineEdit(self)
        self.text_filter.setPlaceholderText("Filter tag or message")
        self.text_filter.setClearButtonEnabled(True)
        self.text_filter.setMinimumWidth(280)
        self.priority_filter = QComboBox(self)
        self.priority_filter.addItems(["All priorities", "P1", "P2", "P3", "P4"])
        self.state_filter = QComboBox(self)
        self.state_filter.addItems(list(STATE_FILTERS))
        self.count = QLabel(self)
        self.kpis = AlarmKpiLine(alarms, self)
        filters = QHBoxLayout()
        for widget in (self.text_filter, self.priority_filter, self.state_filter):
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.count)

        self.table = QTableView(self)
        self.table.setObjectName("AlarmSummaryTable")
        self.table.setModel(self.rows)
        # The indicator first: enabling sorting then sorts once, by priority like the banner.
        self.table.horizontalHeader().setSortIndicator(PRIORITY, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        # Fixed row height: with thousands of rows Qt need not measure each one.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        # Rows and icons big enough for a legible priority mark (its number readable).
        self.table.verticalHeader().setDefaultSectionSize(28)
        self.table.setIconSize(QSize(24, 24))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        # Note (last, stretching) keeps the most room: "shelved until 14:05: reason" must
        # read in full; the message is shorter than its column more often than not.
        for column, width in enumerate(_COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        self._fit_text_columns()

        self.ack_button = QPushButton("Acknowledge selected", self)
        self.shelve_button = QPushButton("Shelve selected ...", self)
        self.unshelve_button = QPushButton("Unshelve selected", self)
        self.history_button = QPushButton("History ...", self)
        self.remove_button = QPushButton("Remove from service ...", self)
        self.return_button = QPushButton("Return to service ...", self)
        for button in (self.remove_button, self.return_button):
            button.setObjectName("EngineerButton")
        self.message = QLabel(self)
        self.message.setObjectName("AlarmMessage")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.ack_button, self.shelve_button, self.unshelve_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.return_button)
        buttons.addSpacing(24)
        buttons.addWidget(self.history_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.kpis)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self.text_filter.textChanged.connect(lambda text: self._filter(text=text))
        self.priority_filter.currentIndexChanged.connect(lambda i: self._filter(priority=i))
        self.state_filter.currentTextChanged.connect(lambda state: self._filter(state=state))
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.ack_button.clicked.connect(self.acknowledge_selected)
        self.shelve_button.clicked.connect(self.ask_shelve)
        self.unshelve_button.clicked.connect(self.unshelve_selected)
        self.history_button.clicked.connect(self._on_history)
        self.remove_button.clicked.connect(lambda: self.ask_service(remove=True))
        self.return_button.clicked.connect(lambda: self.ask_service(remove=False))
        alarms.request_failed.connect(self.message.setText)
        alarms.limits_changed.connect(self._on_roles)
        if session is not None:
            session.session_changed.connect(self._on_roles)
        self._on_roles()
        self._after_change()

    def _fit_text_columns(self) -> None:
        """The times and states in full, in the bold of an unacknowledged row: a cut
        "2026-12-03 ..." is no alarm time."""
        self.table.ensurePolished()  # the theme's font size
        bold = QFont(self.table.font())
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        stamp = metrics.horizontalAdvance("2026-12-31 23:59:59")
        state = max(metrics.horizontalAdvance(text) for text in STATE_TEXT.values())
        for column, needed in ((SINCE, stamp), (ACKED, stamp), (SHELVED, stamp), (STATE, state)):
            width = max(self.table.columnWidth(column), needed + 16)
            self.table.setColumnWidth(column, width)

    # -- following the model -------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        """Follow the model while shown."""
        if not self._following:
            self.alarms.changed.connect(self._on_alarms)
            self._following = True
            self._on_alarms(None)
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        """Stop following while hidden."""
        if self._following:
            self._following = False
            with contextlib.suppress(RuntimeError, TypeError):
                self.alarms.changed.disconnect(self._on_alarms)
        super().hideEvent(event)

    def _on_alarms(self, tags: frozenset[str] | None) -> None:
        self.source.update(tags)
        self._after_change()

    def _filter(self, **how: object) -> None:
        self.rows.set_filter(**how)  # type: ignore[arg-type]
        self._after_change()

    def _after_change(self) -> None:
        total = self.source.rowCount()
        shown = self.rows.rowCount()
        waiting = sum(1 for s in self.source.statuses() if s.state.needs_ack)
        unknown = "" if self.alarms.synced else " (may be stale: no answer from the alarm engine)"
        self.count.setText(f"{shown} of {total} shown, {waiting} unacknowledged{unknown}")
        self._on_selection()

    # -- selection and requests ------------------------------------------------------------
    def selected(self) -> list[AlarmStatus]:
        """The alarms of the selected rows, top to bottom."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [self.rows.status_at(row) for row in rows]

    def _on_selection(self, *_: QItemSelection) -> None:
        chosen = self.selected()
        self.ack_button.setEnabled(any(s.state.needs_ack for s in chosen))
        self.shelve_button.setEnabled(any(s.state in _SHELVABLE for s in chosen))
        self.unshelve_button.setEnabled(any(s.shelved for s in chosen))
        # Nothing selected: the dialog asks which alarm (a normal one is not listed).
        self.remove_button.setEnabled(not chosen or any(not s.out_of_service for s in chosen))
        self.return_button.setEnabled(any(s.out_of_service for s in chosen))

    # -- engineers ---------------------------------------------------------------------------
    def may_maintain(self) -> bool:
        """True when the user may remove alarms from service, as far as the GUI knows
        (the engine's limits and the session's roles; the engine decides anyway)."""
        roles = self.session.roles if self.session is not None else frozenset()
        return self.alarms.may("remove_from_service", roles) is not False

    def _on_roles(self) -> None:
        shown = self.may_maintain()
        self.remove_button.setVisible(shown)
        self.return_button.setVisible(shown)

    def ask_service(self, *, remove: bool) -> ServiceDialog | None:
        """Ask the reason, then remove the selected alarms from service (or return them)."""
        chosen = self.selected()
        if remove:
            tags = [s.tag for s in chosen if not s.out_of_service]
        else:
            tags = [s.tag for s in chosen if s.out_of_service]
        if chosen and not tags:
            return None
        choices = [s.tag for s in self.alarms.statuses() if s.out_of_service != remove]
        dialog = ServiceDialog(tags, remove=remove, choices=choices, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.accepted.connect(
            lambda: self.set_service(dialog.tags, dialog.reason_text, remove=remove)
        )
        dialog.open()
        return dialog

    def set_service(self, tags: list[str], reason: str, *, remove: bool) -> None:
        """Remove ``tags`` from service (or return them) with ``reason``; refusals shown."""
        if not tags:
            return
        self.message.clear()
        call = self.alarms.remove_from_service if remove else self.alarms.return_to_service

        async def run() -> None:
            for tag in tags:
                await call(tag, reason)

        self.alarms.request(run())

    def acknowledge_selected(self) -> None:
        """Acknowledge the selected alarms that wait for it (one request)."""
        tags = [s.tag for s in self.selected() if s.state.needs_ack]
        if tags:
            self.message.clear()
            self.alarms.request(self.alarms.acknowledge(tags))

    def ask_shelve(self) -> None:
        """Ask reason and duration, then shelve the selected alarms."""
        tags = [s.tag for s in self.selected() if s.state in _SHELVABLE]
        if not tags:
            return
        dialog = ShelveDialog(tags, self.alarms.max_shelve, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.accepted.connect(
            lambda: self.shelve(dialog.tags, dialog.reason_text, dialog.duration)
        )
        dialog.open()

    def shelve(self, tags: list[str], reason: str, duration: float) -> None:
        """Shelve ``tags`` with ``reason`` for ``duration`` seconds (refusals reported)."""
        self.message.clear()

        async def run() -> None:
            for tag in tags:
                await self.alarms.shelve(tag, reason, duration)

        self.alarms.request(run())

    def unshelve_selected(self) -> None:
        """Unshelve the selected shelved alarms."""
        tags = [s.tag for s in self.selected() if s.shelved]
        if not tags:
            return
        self.message.clear()

        async def run() -> None:
            for tag in tags:
                await self.alarms.unshelve(tag)

        self.alarms.request(run())

    def _on_history(self) -> None:
        if self.on_history is not None:
            self.on_history()


class AlarmSummaryDialog(QDialog):
    """The summary in its own non-modal window (opened from the banner or the status bar)."""

    def __init__(
        self,
        alarms: AlarmModel,
        parent: QWidget | None = None,
        *,
        session: HmiContext | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("AlarmSummary")
        self.setWindowTitle("Alarm summary")
        self.resize(SUMMARY_SIZE)
        self.summary = AlarmSummary(alarms, self, session=session)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary)
