"""One way to open the services' SQLite files (audit trail, alarm journal, history)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def open_wal(path: Path | str, schema: str, **connect: Any) -> sqlite3.Connection:
    """Open ``path`` for appending: its folder and tables created, WAL, ``synchronous=NORMAL``.

    NORMAL in WAL mode: a killed process loses nothing committed; only a power cut may
    lose the last transactions (FULL would fsync every commit). A 5 s busy timeout lets a
    reader holding the file briefly not fail the writer. ``connect`` goes to
    :func:`sqlite3.connect`. The connection is closed again if the set-up fails, and
    SQLite's error names the file (``.../audit.sqlite: database or disk is full``): the
    backend says it in one line when it cannot start.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        db: sqlite3.Connection = sqlite3.connect(str(path), **connect)
    except sqlite3.Error as exc:
        raise type(exc)(f"{path}: {exc}") from exc
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.executescript(schema)
    except sqlite3.Error as exc:
        db.close()
        raise type(exc)(f"{path}: {exc}") from exc
    except BaseException:
        db.close()
        raise
    return db
