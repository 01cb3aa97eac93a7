"""The alarm journal: every alarm transition, appended to SQLite (WAL), queryable.

One row per :class:`~hmi.core.alarms.AlarmTransition`: when, which tag, what happened,
from which state to which, who did it and why, plus the full status as JSON (so a newer
field never needs a schema change). Values are JSON so a bool stays a bool in a CSV.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from hmi.core.alarms import AlarmStatus, AlarmTransition
from hmi.services.sqlite import open_wal

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


class AlarmJournal:
    """Append-only journal of alarm transitions in an SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self._db = open_wal(path, _SCHEMA, isolation_level=None)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> AlarmJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, transitions: Sequence[AlarmTransition]) -> int:
        """Append ``transitions`` in one transaction (committed before returning)."""
        if not transitions:
            return 0
        rows = [
            (
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
            for t in transitions
        ]
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT INTO journal (time, tag, event, previous, state, level, priority,"
                " value, user, comment, message, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return len(rows)

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
