"""The audit trail: every write attempt, alarm action, login and logout, refused RPC
call and device edit, in SQLite.

Rows are only ever appended. Values are stored as JSON text so a bool stays a bool and a
string stays a string in the CSV an auditor exports.

Two ways to add a row, for two kinds of event (docs/security.md, "Fail-closed rules"):

- :meth:`AuditLog.record` for an action that is about to change the plant (a write, an
  alarm request): the row is committed before it returns, or it raises
  :class:`AuditUnavailable` and the caller refuses the action. Nothing is done that was
  not recorded.
- :meth:`AuditLog.note` for what happened anyway (a login, a refusal, a result): it never
  raises; a row that cannot be stored waits in a bounded buffer, is written with the next
  row that can be (in order), and is counted in :attr:`AuditLog.lost` if the buffer
  overflows.

Either way a failing store is reported to the :class:`~hmi.services.health.StoreHealth`
(the alarm engine raises ``system/audit/storage``) until a write succeeds again.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
import weakref
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import IO, Any

from hmi.services.health import AUDIT, StoreHealth, describe
from hmi.services.sqlite import open_wal
from hmi.services.wal_checkpoint import WalCheckpointer

log = logging.getLogger(__name__)

#: rows of :meth:`AuditLog.note` kept in memory at most while the store fails
MAX_BACKLOG = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id        INTEGER PRIMARY KEY,
    time      REAL NOT NULL,
    user      TEXT NOT NULL,
    host      TEXT NOT NULL,
    node      TEXT NOT NULL,
    screen    TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
CREATE INDEX IF NOT EXISTS audit_user ON audit (user, time);
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited event. ``action`` is e.g. ``write``, ``ack``, ``shelve``, ``login``."""

    time: float
    user: str
    action: str
    target: str = ""
    old_value: Any = None
    new_value: Any = None
    #: ``accepted``, ``confirmed``, ``overridden`` (written, but the device holds another
    #: value: ``reason`` says which), ``rejected``, ``failed``, ``timed_out``, ``ok``, ``denied``
    outcome: str = ""
    reason: str = ""
    host: str = ""
    node: str = ""
    screen: str = ""


_COLUMNS = [f.name for f in fields(AuditEntry)]
#: the columns stored as JSON text (by their index in ``_COLUMNS``)
_JSON_COLUMNS = [_COLUMNS.index("old_value"), _COLUMNS.index("new_value")]


def entry_from_event(event: Mapping[str, Any], now: float) -> AuditEntry:
    """The entry of an audit event (a dict of :class:`AuditEntry` fields, as published on
    ``audit/...``); a missing time is ``now``, text fields are made text."""

    def text(name: str) -> str:
        value = event.get(name)
        return "" if value is None else str(value)

    when = event.get("time")
    return AuditEntry(
        time=float(when) if isinstance(when, int | float) and when else now,
        user=text("user"),
        action=text("action"),
        target=text("target"),
        old_value=event.get("old_value"),
        new_value=event.get("new_value"),
        outcome=text("outcome"),
        reason=text("reason"),
        host=text("host"),
        node=text("node"),
        screen=text("screen"),
    )


def write_csv(entries: Iterable[AuditEntry], out: IO[str]) -> int:
    """Write ``entries`` as CSV with a header line; returns how many."""
    writer = csv.writer(out)
    writer.writerow(_COLUMNS)
    count = 0
    for entry in entries:
        writer.writerow(["" if v is None else v for v in astuple(entry)])
        count += 1
    return count


def csv_text(entries: Iterable[AuditEntry]) -> str:
    """``entries`` as CSV text (what an export returns to the client that saves it)."""
    out = io.StringIO()
    write_csv(entries, out)
    return out.getvalue()


class AuditUnavailable(RuntimeError):
    """The audit row could not be stored: the action it was for must not be carried out.
    The message is for the operator (``audit unavailable: database or disk is full``)."""


class AuditLog:
    """An append-only audit table in an SQLite file (WAL, safe with concurrent readers).

    ``health`` hears when storing fails and when it works again; ``max_backlog`` bounds
    the rows :meth:`note` keeps in memory meanwhile.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        health: StoreHealth | None = None,
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        self._db = open_wal(path, _SCHEMA)
        # A write waits for its intent row's commit: the fsyncs of WAL checkpoints run on
        # a thread of their own, never inside that commit (hmi.services.wal_checkpoint).
        self._checkpoints = None if str(path) == ":memory:" else WalCheckpointer(self._db, path)
        if self._checkpoints is not None:
            # an audit log dropped without close() does not leave its thread behind
            weakref.finalize(self, self._checkpoints.stop)
        self.health = health
        self._backlog: deque[AuditEntry] = deque()
        self.max_backlog = max_backlog
        #: rows of :meth:`note` dropped because the backlog was full (oldest first)
        self.lost = 0

    def close(self) -> None:
        """Close the database (after the checkpoint thread: the last connection to close
        checkpoints what is left)."""
        if self._checkpoints is not None:
            self._checkpoints.close()
        self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def backlog(self) -> int:
        """Rows of :meth:`note` waiting for the store to work again."""
        return len(self._backlog)

    def record(self, *entries: AuditEntry) -> None:
        """Append ``entries`` and commit them before returning (an audit row must survive
        a crash), after the rows waiting in the backlog: one transaction, all or none.

        Raises :class:`AuditUnavailable` when they cannot be stored: the caller must then
        refuse the action they are for. The backlog stays for the next attempt.
        """
        self._store([*self._backlog, *entries])
        self._backlog.clear()
        self._healthy()

    def note(self, entry: AuditEntry) -> bool:
        """Append ``entry`` if the store takes it, else keep it for later; never raises.

        For events that happened whatever the audit can do (logins, refusals, results).
        Returns whether it is stored now.
        """
        self._backlog.append(entry)
        if len(self._backlog) > self.max_backlog:
            self._backlog.popleft()
            self.lost += 1
        return self.retry()

    def retry(self) -> bool:
        """Write the rows waiting in the backlog; True when none waits any more."""
        if not self._backlog:
            return True
        try:
            self._store(list(self._backlog))
        except AuditUnavailable as exc:
            log.warning("%s; %d rows wait (%d lost)", exc, len(self._backlog), self.lost)
            return False
        self._backlog.clear()
        self._healthy()
        return True

    def _store(self, entries: Sequence[AuditEntry]) -> None:
        """Insert ``entries`` in one transaction, or raise :class:`AuditUnavailable`."""
        rows = []
        for entry in entries:
            # getattr, not dataclasses.astuple: that deep-copies every value, and this is
            # on the way of every write (its intent row, then its result's)
            row = [getattr(entry, name) for name in _COLUMNS]
            for index in _JSON_COLUMNS:
                # default=str: an odd value (bytes off the wire) is kept as text, not lost
                row[index] = json.dumps(row[index], default=str)
            rows.append(row)
        placeholders = ", ".join("?" for _ in _COLUMNS)
        try:
            # The context commits, or rolls back only a transaction still open (SQLite
            # rolls back by itself on a full disk): the real error is what comes out.
            with self._db:
                self._db.executemany(
                    f"INSERT INTO audit ({', '.join(_COLUMNS)}) VALUES ({placeholders})", rows
                )
            if self._checkpoints is not None:
                self._checkpoints.committed()
        except (sqlite3.Error, OSError) as exc:
            problem = describe(exc)
            if self.health is not None:
                self.health.report(AUDIT, problem)
            raise AuditUnavailable(f"audit unavailable: {problem}") from exc

    def _healthy(self) -> None:
        if self.health is not None:
            self.health.report(AUDIT, None)

    def query(
        self,
        since: float | None = None,
        until: float | None = None,
        user: str | None = None,
        action: str | None = None,
        limit: int = 10_000,
    ) -> list[AuditEntry]:
        """Entries in time order, filtered by time range, user and action."""
        return list(self._select(since, until, user, action, limit))

    def newest(self, limit: int) -> list[AuditEntry]:
        """The newest ``limit`` entries, oldest first (without reading the whole trail)."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM audit ORDER BY time DESC, id DESC LIMIT ?"
        rows = self._db.execute(sql, [max(0, limit)]).fetchall()
        return [_entry(row) for row in reversed(rows)]

    def _select(
        self,
        since: float | None,
        until: float | None,
        user: str | None,
        action: str | None,
        limit: int,
    ) -> Iterator[AuditEntry]:
        clauses, params = [], []
        for column, op, value in (
            ("time", ">=", since),
            ("time", "<", until),
            ("user", "=", user),
            ("action", "=", action),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM audit {where} ORDER BY time, id LIMIT ?"
        for row in self._db.execute(sql, [*params, limit]):
            yield _entry(row)

    def export_csv(self, out: IO[str], **filters: Any) -> int:
        """Write the (filtered) entries as CSV with a header; returns the row count."""
        return write_csv(self.query(**filters), out)


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    """The entry of a row of ``_COLUMNS``."""
    values = dict(zip(_COLUMNS, row, strict=True))
    values["old_value"] = json.loads(values["old_value"])
    values["new_value"] = json.loads(values["new_value"])
    return AuditEntry(**values)
