"""The alarm journal: every alarm transition, appended to SQLite (WAL), queryable.

One row per :class:`~hmi.core.alarms.AlarmTransition`: when, which tag, what happened,
from which state to which, who did it and why, plus the full status as JSON (so a newer
field never needs a schema change). Values are JSON so a bool stays a bool in a CSV.

Two ways in, as for the audit trail:

- :meth:`AlarmJournal.transaction` for an operator's request (acknowledge, shelve,
  service): the rows are inserted, the caller's body runs (it stores the audit rows), and
  the rows are committed; any failure raises :class:`JournalUnavailable` (or the body's
  error) with nothing committed, and the engine puts the alarms back as they were.
- :meth:`AlarmJournal.append` for what the process did (an alarm came, cleared): that
  cannot be refused, so a row the store does not take waits in a bounded buffer and is
  written, in order, before the next rows; the buffer's losses are counted in ``lost``.

A failing store is reported to the :class:`~hmi.services.health.StoreHealth`.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import sqlite3
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from hmi.core.alarms import AlarmStatus, AlarmTransition
from hmi.services.health import JOURNAL, StoreHealth, describe
from hmi.services.sqlite import open_wal

log = logging.getLogger(__name__)

#: transitions kept in memory at most while the store fails (then the oldest are lost)
MAX_BACKLOG = 100_000
_INSERT = (
    "INSERT INTO journal (time, tag, event, previous, state, level, priority,"
    " value, user, comment, message, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    id       INTEGER PRIMARY KEY,
    time     REAL NOT NULL,
    tag      TEXT NOT NULL,
    event    TEXT NOT NULL,
    previous TEXT NOT NULL,
    state    TEXT NOT NULL,
    level    TEXT NOT NULL,
    priority INTEGER NOT NULL,
    value    TEXT NOT NULL,
    user     TEXT NOT NULL,
    comment  TEXT NOT NULL,
    message  TEXT NOT NULL,
    status   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_time ON journal (time);
CREATE INDEX IF NOT EXISTS journal_tag ON journal (tag, time);
"""
#: the columns of :meth:`AlarmJournal.export_csv`, in order
CSV_COLUMNS = (
    "time",
    "tag",
    "event",
    "previous",
    "state",
    "level",
    "priority",
    "value",
    "user",
    "comment",
    "message",
)


class JournalUnavailable(RuntimeError):
    """The journal could not store the rows of a request: it was not carried out. The
    message is for the operator (``alarm journal unavailable: database or disk is full``)."""


class AlarmJournal:
    """Append-only journal of alarm transitions in an SQLite file."""

    def __init__(
        self,
        path: Path | str,
        *,
        health: StoreHealth | None = None,
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        self._db = open_wal(path, _SCHEMA, isolation_level=None)
        self.health = health
        self._backlog: deque[AlarmTransition] = deque()
        self.max_backlog = max_backlog
        #: process transitions never journalled: the backlog was full (oldest first)
        self.lost = 0

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> AlarmJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def backlog(self) -> int:
        """Process transitions waiting for the store to work again."""
        return len(self._backlog)

    def write(self, transitions: Sequence[AlarmTransition]) -> int:
        """Append ``transitions`` (after the backlog) in one transaction, committed before
        returning; raises :class:`JournalUnavailable` when the store does not take them."""
        if not transitions and not self._backlog:
            return 0
        with self.transaction(transitions):
            pass
        return len(transitions)

    @contextlib.contextmanager
    def transaction(self, transitions: Sequence[AlarmTransition]) -> Iterator[None]:
        """Insert the backlog and ``transitions``, run the body, commit.

        Nothing is committed when the insert, the body or the commit fails; a failure of
        the store raises :class:`JournalUnavailable` (the body's own errors pass as they
        are). The backlog stays for the next attempt then, and is cleared on success.
        """
        rows = [_row(t) for t in (*self._backlog, *transitions)]
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            if rows:
                db.executemany(_INSERT, rows)
        except (sqlite3.Error, OSError) as exc:
            self._rollback()
            raise self._unavailable(exc) from exc
        try:
            yield
        except BaseException:
            self._rollback()
            raise
        try:
            db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            self._rollback()
            raise self._unavailable(exc) from exc
        self._backlog.clear()
        if self.health is not None:
            self.health.report(JOURNAL, None)

    def append(self, transitions: Sequence[AlarmTransition]) -> bool:
        """Journal what the process did; never raises. A transition the store does not
        take waits (bounded) and goes first the next time. True when all are stored."""
        self._backlog.extend(transitions)
        overflow = len(self._backlog) - self.max_backlog
        for _ in range(max(0, overflow)):
            self._backlog.popleft()
            self.lost += 1
        return self.retry()

    def retry(self) -> bool:
        """Write the transitions waiting in the backlog; True when none waits any more."""
        if not self._backlog:
            return True
        try:
            self.write(())
        except JournalUnavailable as exc:
            log.warning("%s; %d transitions wait (%d lost)", exc, len(self._backlog), self.lost)
            return False
        return True

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (it does on a full disk):
        a second error here would hide the first."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _unavailable(self, exc: BaseException) -> JournalUnavailable:
        problem = describe(exc)
        if self.health is not None:
            self.health.report(JOURNAL, problem)
        return JournalUnavailable(f"alarm journal unavailable: {problem}")

    def query(
        self,
        since: float | None = None,
        until: float | None = None,
        tag: str | None = None,
        limit: int = 10_000,
    ) -> list[AlarmTransition]:
        """Transitions in time order within ``[since, until)``, of one tag or all."""
        return [AlarmTransition.from_dict(d) for d in self.rows(since, until, tag, limit)]

    def rows(
        self,
        since: float | None = None,
        until: float | None = None,
        tag: str | None = None,
        limit: int = 10_000,
    ) -> list[dict[str, Any]]:
        """Like :meth:`query` but plain dicts (what the RPC returns)."""
        clauses, params = [], []
        for column, op, value in (("time", ">=", since), ("time", "<", until), ("tag", "=", tag)):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT status FROM journal {where} ORDER BY time, id LIMIT ?"
        return [json.loads(row[0]) for row in self._db.execute(sql, [*params, limit])]

    def latest(self) -> dict[str, AlarmStatus]:
        """The last status of every tag in the journal (what the alarms were at shutdown)."""
        sql = "SELECT status FROM journal WHERE id IN (SELECT max(id) FROM journal GROUP BY tag)"
        out: dict[str, AlarmStatus] = {}
        for (text,) in self._db.execute(sql):
            status = AlarmStatus.from_dict(json.loads(text))
            out[status.tag] = status
        return out

    def export_csv(self, out: IO[str], **filters: Any) -> int:
        """Write the (filtered) transitions as CSV with a header; returns the row count."""
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        rows = self.rows(**filters)
        for row in rows:
            writer.writerow(
                [
                    row["time"],
                    row["tag"],
                    row["event"],
                    row["previous"],
                    row["state"],
                    row["level"],
                    row["priority"],
                    json.dumps(row["value"]),
                    row["actor"],
                    row["comment"],
                    row["message"],
                ]
            )
        return len(rows)


def _row(t: AlarmTransition) -> tuple[Any, ...]:
    """The journal row of one transition."""
    return (
        t.time,
        t.tag,
        t.event.value,
        t.previous.value,
        t.state.value,
        t.status.level.name,
        t.status.priority,
        json.dumps(t.status.value),
        t.user,
        t.comment,
        t.status.message,
        json.dumps(t.to_dict()),
    )
