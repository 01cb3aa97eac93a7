"""The audit trail: every write attempt, alarm action, login and logout, refused RPC
call and device edit, in SQLite.

Rows are only ever appended. Values are stored as JSON text so a bool stays a bool and a
string stays a string in the CSV an auditor exports.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import IO, Any

from hmi.services.sqlite import open_wal

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


class AuditLog:
    """An append-only audit table in an SQLite file (WAL, safe with concurrent readers)."""

    def __init__(self, path: Path | str) -> None:
        self._db = open_wal(path, _SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, entry: AuditEntry) -> None:
        """Append one entry and commit it (an audit row must survive a crash)."""
        row = list(astuple(entry))
        for index, name in enumerate(_COLUMNS):
            if name in ("old_value", "new_value"):
                # default=str: an odd value (bytes off the wire) is kept as text, not lost
                row[index] = json.dumps(row[index], default=str)
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._db:
            self._db.execute(
                f"INSERT INTO audit ({', '.join(_COLUMNS)}) VALUES ({placeholders})", row
            )

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
