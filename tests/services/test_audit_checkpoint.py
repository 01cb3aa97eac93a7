"""The audit log's WAL checkpoints run on a thread of their own (issue 17, write round trip).

SQLite's automatic checkpoint ran inside one commit in about 300 and fsynced there: an
operator's write waited 4-20 ms for its intent row now and then. The audit log's own
connection no longer checkpoints; :class:`~hmi.services.wal_checkpoint.WalCheckpointer`
does, beside it. What a commit stored is still there after a kill -9.
"""

from __future__ import annotations

import gc
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hmi.services.audit import AuditEntry, AuditLog
from hmi.services.sqlite import open_wal
from hmi.services.wal_checkpoint import WalCheckpointer

SCHEMA = "CREATE TABLE IF NOT EXISTS t (x INTEGER);"


def entry(i: int) -> AuditEntry:
    return AuditEntry(time=1000.0 + i, user="olga", action="write", target="a/b/c", new_value=i)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_commits_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    db = open_wal(path, SCHEMA)
    checkpoints = WalCheckpointer(db, path, every=10, interval=30.0)
    try:
        assert db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        for burst in (1, 2):
            for i in range(10):
                with db:
                    db.execute("INSERT INTO t VALUES (?)", [i])
                checkpoints.committed()
            wait_for(lambda: checkpoints.runs >= burst)  # noqa: B023
        with db:
            db.execute("INSERT INTO t VALUES (0)")
        checkpoints.committed()
        time.sleep(0.1)
        assert checkpoints.runs == 2  # one per 10 commits (or 30 s), not one per commit
    finally:
        checkpoints.close()
        db.close()
    assert not checkpoints.running
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM t").fetchone() == (21,)


def test_a_few_commits_are_checkpointed_after_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    db = open_wal(path, SCHEMA)
    checkpoints = WalCheckpointer(db, path, every=1000, interval=0.05)
    try:
        with db:
            db.execute("INSERT INTO t VALUES (1)")
        checkpoints.committed()
        wait_for(lambda: checkpoints.runs == 1)
    finally:
        checkpoints.close()
        db.close()


KILLED = """
import os, signal, sys
from pathlib import Path
from hmi.services.audit import AuditEntry, AuditLog
log = AuditLog(Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    log.record(AuditEntry(time=1000.0 + i, user="olga", action="write", target="a/b/c"))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_every_committed_row_survives_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    rows = 700  # past two checkpoints of the thread (every 256 commits)
    done = subprocess.run([sys.executable, "-c", KILLED, str(path), str(rows)], check=False)
    assert done.returncode == -9
    with AuditLog(path) as log:
        assert len(log.query()) == rows


def test_an_audit_log_in_memory_has_no_thread() -> None:
    with AuditLog(":memory:") as log:
        log.record(entry(1))
        assert log._checkpoints is None
        assert [e.new_value for e in log.query()] == [1]


def test_an_audit_log_dropped_without_close_stops_its_thread(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite")
    log.record(entry(1))
    checkpoints = log._checkpoints
    assert checkpoints is not None and checkpoints.running
    del log
    gc.collect()
    wait_for(lambda: not checkpoints.running)
