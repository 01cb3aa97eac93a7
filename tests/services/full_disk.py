"""A full disk for one SQLite connection: ``PRAGMA max_page_count`` and filler rows.

``max_page_count`` holds per connection, so it is set on the store's own connection (the
tests reach it as ``store._db``). The file may grow no more, its free pages are used up
by a filler table, and then the store's own tables are topped up with small rows where
its next rows would go (the end of a rowid table, the top of a key range): the store's
next insert fails with SQLite's own "database or disk is full", as on a full disk.
:func:`free` gives the space back. No root, no tmpfs.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence

_FILLER = "_test_filler"
_UNLIMITED = 1_073_741_823

#: top-ups for each store: (insert one small row, delete them all)
AUDIT = (
    "INSERT INTO audit (time, user, host, node, screen, action, target, old_value,"
    " new_value, outcome, reason) VALUES (4e12, '', '', '', '', '', '', '', '', '', '')",
    "DELETE FROM audit WHERE action = ''",
)
JOURNAL = (
    "INSERT INTO journal (time, tag, event, previous, state, level, priority, value, user,"
    " comment, message, status) VALUES (4e12, '', '', '', '', '', 0, '', '', '', '', '')",
    "DELETE FROM journal WHERE tag = ''",
)
#: samples above every tag's key range (a new tag's rows go there), under a tag id no
#: name has
SAMPLES = (
    "INSERT INTO samples VALUES (4611686018427387904,"
    " (SELECT coalesce(max(t), 0) + 1 FROM samples WHERE tag_id = 4611686018427387904),"
    " NULL, 0)",
    "DELETE FROM samples WHERE tag_id = 4611686018427387904",
)


def _commit(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        db.execute("COMMIT")


def _until_full(db: sqlite3.Connection, sql: str, *args: object) -> None:
    while True:
        try:
            db.execute(sql, args)
            _commit(db)
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc), exc
            with contextlib.suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
            return


def fill(db: sqlite3.Connection, *topups: tuple[str, str]) -> None:
    """Make ``db`` full: no page more than now, the free ones used, the ``topups``'
    tables filled to the last bytes where new rows go."""
    db.execute(f"CREATE TABLE IF NOT EXISTS {_FILLER} (x BLOB)")
    _commit(db)
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {int(pages)}")
    for size in (65536, 4096, 512, 64, 8, 1):
        _until_full(db, f"INSERT INTO {_FILLER} VALUES (zeroblob(?))", size)
    for insert, _ in topups:
        _until_full(db, insert)


def free(db: sqlite3.Connection, *topups: tuple[str, str]) -> None:
    """Give the space back: the size limit lifted, the filler rows deleted."""
    db.execute(f"PRAGMA max_page_count = {_UNLIMITED}")
    for statement in (f"DELETE FROM {_FILLER}", *(delete for _, delete in topups)):
        db.execute(statement)
        _commit(db)


def tables(db: sqlite3.Connection) -> Sequence[str]:
    """The names of ``db``'s tables (to check no filler is left behind)."""
    return [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
