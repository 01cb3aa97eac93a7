"""The alarm summary's table: a Qt item model over :class:`~hmi.qt.alarms.AlarmModel`.

:class:`AlarmTableModel` holds one row per listed alarm (any state but normal) and follows
the model's coalesced ``changed(tags)``: rows of changed tags are updated in place, new
ones appended, alarms back to normal removed. Nothing is rebuilt per change, so a view
over thousands of alarms keeps its selection and scroll position through a flood.
:class:`AlarmFilter` sorts by any column and filters by text, priority and state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QFont, QPainter, QPixmap

from hmi.core.alarms import AlarmState, AlarmStatus
from hmi.core.tag import Tag
from hmi.qt.alarm_marks import status_mark
from hmi.qt.alarms import AlarmModel, importance, is_listed, level_text
from hmi.qt.format import format_value
from hmi.qt.look import MARK_SIZE, AlarmMark, paint_alarm_mark

Index = QModelIndex | QPersistentModelIndex

#: "Since" is when the alarm came (its activation), never when it was acknowledged or
#: shelved: those have their own columns. "Note" last: it stretches with the window.
COLUMNS = (
    "P",
    "Since",
    "State",
    "Level",
    "Tag",
    "Message",
    "Value",
    "Acked",
    "Shelved",
    "By",
    "Note",
)
PRIORITY, SINCE, STATE, LEVEL, TAG, MESSAGE, VALUE, ACKED, SHELVED, BY, NOTE = range(len(COLUMNS))
#: the time of each time column
_TIMES: dict[int, Callable[[AlarmStatus], float | None]] = {
    SINCE: lambda s: s.alarm_time,
    ACKED: lambda s: s.acked_at,
    SHELVED: lambda s: s.shelved_at if s.shelved else None,
}

STATE_TEXT = {
    AlarmState.NORMAL: "Normal",
    AlarmState.UNACKNOWLEDGED: "Unacknowledged",
    AlarmState.ACKNOWLEDGED: "Acknowledged",
    AlarmState.RETURNED_UNACKNOWLEDGED: "Returned, unack",
    AlarmState.SHELVED: "Shelved",
    AlarmState.SUPPRESSED: "Suppressed",
    AlarmState.OUT_OF_SERVICE: "Out of service",
}

#: the state filter's choices, in the order the combo box shows them
STATE_FILTERS: dict[str, Callable[[AlarmStatus], bool]] = {
    "All listed": lambda s: True,
    "Active (annunciated)": lambda s: s.state.annunciated,
    "Unacknowledged": lambda s: s.state.needs_ack,
    "Acknowledged": lambda s: s.state is AlarmState.ACKNOWLEDGED,
    "Shelved": lambda s: s.state is AlarmState.SHELVED,
    "Suppressed": lambda s: s.state is AlarmState.SUPPRESSED,
    "Out of service": lambda s: s.state is AlarmState.OUT_OF_SERVICE,
}


def _stamp(when: float | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(fmt, time.localtime(when)) if when else ""


def note(status: AlarmStatus) -> str:
    """Why an alarm is where it is: shelved until/why, out of service, BAD input."""
    parts = []
    if status.shelved:
        parts.append(
            f"shelved until {_stamp(status.shelved_until, '%H:%M')}: {status.shelve_reason}"
        )
    if status.out_of_service:
        parts.append("out of service")
    if status.suppressed:
        parts.append("suppressed by design")
    if status.input_bad:
        parts.append("input quality BAD")
    return "; ".join(parts)


def cell_text(status: AlarmStatus, column: int, tag: Tag | None = None) -> str:
    """What the table shows in ``column`` for ``status`` (also what CSV would hold); the
    value in ``tag``'s format and unit, as the screens show it."""
    if column == PRIORITY:
        return str(status.priority)
    if column in _TIMES:
        return _stamp(_TIMES[column](status))
    if column == STATE:
        return STATE_TEXT.get(status.state, status.state.value)
    if column == LEVEL:
        return level_text(status.level)
    if column == TAG:
        return status.tag
    if column == MESSAGE:
        return status.message
    if column == VALUE:
        # Never binary noise (4.9000001 from a float32 register reads 4.9), bools ON/OFF.
        value = status.value
        return "" if value is None else format_value(value, tag, with_unit=True)
    if column == NOTE:
        return note(status)
    return status.user


def sort_key(status: AlarmStatus, column: int) -> Any:
    """A Python value to order ``column`` by (priority sorts like the banner)."""
    if column == PRIORITY:
        return importance(status)
    if column in _TIMES:
        when = _TIMES[column](status)
        return (when is None, when or 0.0)  # alarms without that time last
    if column == STATE:
        return (list(STATE_TEXT).index(status.state), status.priority)
    if column == VALUE:
        value = status.value
        return (0, float(value), "") if isinstance(value, int | float) else (1, 0.0, str(value))
    return cell_text(status, column).lower()


class AlarmTableModel(QAbstractTableModel):
    """One row per listed alarm of ``alarms``, updated in place as transitions arrive."""

    def __init__(
        self,
        alarms: AlarmModel | None = None,
        parent: QObject | None = None,
        *,
        fill: bool = True,
    ) -> None:
        super().__init__(parent)
        self._rows: list[AlarmStatus] = []
        self._index: dict[str, int] = {}
        self._marks: dict[AlarmMark, QPixmap] = {}
        #: (tag, column) -> sort key: sorting 5,000 rows asks for each key ~30 times
        self._keys: dict[tuple[str, int], Any] = {}
        self.alarms = alarms if alarms is not None else AlarmModel(parent=self)
        if fill:  # a view that fills itself when shown passes False: one sort, not two
            self.reset()

    def set_alarms(self, alarms: AlarmModel) -> None:
        """Show ``alarms`` instead (the caller connects its ``changed`` to :meth:`update`)."""
        self.alarms = alarms
        self.reset()

    # -- following the alarm model ---------------------------------------------------------
    def reset(self) -> None:
        """Rebuild every row (a new model); most important first until the view sorts."""
        self.beginResetModel()
        self._rows = sorted(self.alarms.listed(), key=importance)
        self._index = {s.tag: i for i, s in enumerate(self._rows)}
        self._keys.clear()
        self.endResetModel()

    def update(self, tags: frozenset[str] | None) -> None:
        """Apply the changes of ``tags`` (None: everything) without a reset."""
        if tags is None:
            self.reset()
            return
        changed: list[int] = []
        gone: list[int] = []
        new: list[AlarmStatus] = []
        keys = self._keys
        for tag in tags:
            for column in range(len(COLUMNS)):
                keys.pop((tag, column), None)
            status = self.alarms.status(tag)
            row = self._index.get(tag)
            listed = status is not None and is_listed(status)
            if row is not None and listed:
                assert status is not None
                self._rows[row] = status
                changed.append(row)
            elif row is not None:
                gone.append(row)
            elif listed:
                assert status is not None
                new.append(status)
        # One signal per run of adjacent rows: the proxy re-sorts and re-filters exactly the
        # rows that changed (one signal for the whole span would make it check them all).
        last = len(COLUMNS) - 1
        for first, end in _runs(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(end, last))
        for row in sorted(gone, reverse=True):  # from the bottom: earlier rows keep numbers
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()
        if new:
            new.sort(key=importance)
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows.extend(new)
            self.endInsertRows()
        if gone or new:
            self._index = {s.tag: i for i, s in enumerate(self._rows)}

    # -- reading ---------------------------------------------------------------------------
    def status_at(self, row: int) -> AlarmStatus:
        """The alarm of source row ``row``."""
        return self._rows[row]

    def sort_key(self, row: int, column: int) -> Any:
        """The (cached) :func:`sort_key` of source row ``row`` in ``column``."""
        status = self._rows[row]
        cache = (status.tag, column)
        key = self._keys.get(cache)
        if key is None:
            key = self._keys[cache] = sort_key(status, column)
        return key

    def statuses(self) -> list[AlarmStatus]:
        """Every row's alarm, in source order."""
        return list(self._rows)

    # -- Qt --------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """Rows: one per listed alarm."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """Columns: :data:`COLUMNS`."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, the priority shape, bold while unacknowledged, details in the tooltip."""
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        status = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == VALUE:
                return cell_text(status, column, self.alarms.tag(status.tag))
            return cell_text(status, column)
        if role == Qt.ItemDataRole.DecorationRole and column == PRIORITY:
            # Shelved, suppressed, out of service: the plain shape (nothing waits).
            plain = not status.state.annunciated
            return self._mark(AlarmMark(status.priority) if plain else status_mark(status))
        if role == Qt.ItemDataRole.FontRole and status.state.needs_ack:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            who = f"\nlast action by {status.user}" if status.user else ""
            times = "".join(
                f"\n{label} {cell_text(status, column)}"
                for label, column in (
                    ("active since", SINCE),
                    ("acknowledged", ACKED),
                    ("shelved", SHELVED),
                )
                if cell_text(status, column)
            )
            state = f"{cell_text(status, STATE)} {note(status)}".rstrip()
            return f"{status.tag}: {status.message}\n{state}{times}{who}"
        return None

    def _mark(self, mark: AlarmMark) -> QPixmap:
        # Painted once per kind of mark: the same shapes as everywhere else (colour + shape
        # + number; framed while waiting for an ack, hollow once returned). Steady here: the
        # banner flashes, a table of hundreds would only blink.
        pixmap = self._marks.get(mark)
        if pixmap is None:
            pixmap = QPixmap(26, 26)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            paint_alarm_mark(painter, QRectF(3, 3, MARK_SIZE - 2, MARK_SIZE - 2), mark)
            painter.end()
            self._marks[mark] = pixmap
        return pixmap


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """``[5, 1, 2, 3, 9]`` -> ``[(1, 3), (5, 5), (9, 9)]``."""
    out: list[tuple[int, int]] = []
    for row in sorted(rows):
        if out and row == out[-1][1] + 1:
            out[-1] = (out[-1][0], row)
        else:
            out.append((row, row))
    return out


class AlarmFilter(QSortFilterProxyModel):
    """Sorts by any column and shows the rows matching text, priority and state."""

    def __init__(self, source: AlarmTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self.setSourceModel(source)
        self.setDynamicSortFilter(True)
        self._text = ""
        self._priority = 0
        self._state = next(iter(STATE_FILTERS))

    def set_filter(
        self, *, text: str | None = None, priority: int | None = None, state: str | None = None
    ) -> None:
        """Narrow the rows: ``text`` in tag or message, ``priority`` (0: any), ``state``."""
        if state is not None and state not in STATE_FILTERS:
            raise ValueError(f"unknown state filter {state!r}")
        # Qt 6.10 deprecates invalidateFilter(); 6.8/6.9 have no begin/endFilterChange.
        begin = getattr(self, "beginFilterChange", None)
        if begin is not None:
            begin()
        if text is not None:
            self._text = text.strip().lower()
        if priority is not None:
            self._priority = priority
        if state is not None:
            self._state = state
        if begin is not None:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        """Text, priority and state must all match."""
        status = self._source.status_at(source_row)
        if self._priority and status.priority != self._priority:
            return False
        if not STATE_FILTERS[self._state](status):
            return False
        text = self._text
        return not text or text in status.tag.lower() or text in status.message.lower()

    def lessThan(self, left: Index, right: Index) -> bool:
        """Order by the column's Python sort key, not by its text."""
        column = left.column()
        source = self._source
        return bool(source.sort_key(left.row(), column) < source.sort_key(right.row(), column))

    def status_at(self, row: int) -> AlarmStatus:
        """The alarm shown at view row ``row``."""
        return self._source.status_at(self.mapToSource(self.index(row, 0)).row())
