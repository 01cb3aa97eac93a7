"""WAL checkpoints off the writer's thread, for a store whose commits must be quick.

In WAL mode with ``synchronous=NORMAL`` a commit only appends to the ``-wal`` file (no
fsync), but every ~1,000 pages SQLite's automatic checkpoint runs inside a commit and
fsyncs the WAL and the database: measured on the audit trail (3,000 commits on this
machine), one commit in about 300 took 5-50 ms instead of 0.05 ms, on the event loop, in
the middle of an operator's write; with the checkpoints here, the slowest took 0.3-4 ms.

:class:`WalCheckpointer` turns the automatic checkpoint off on the writer's connection and
runs ``PRAGMA wal_checkpoint(PASSIVE)`` from a thread of its own with a connection of its
own, after ``every`` commits or ``interval`` seconds after a commit, whichever is first.
A passive checkpoint never blocks the writer (it copies what it can; the WAL is reused
from its start by the first commit after a complete one, which writes its new header),
and :mod:`sqlite3` releases the GIL while SQLite works, so the copying and the fsyncs no
longer stop the loop.

Durability is unchanged: a commit is in the WAL file when it returns, whether or not a
checkpoint has copied it into the database yet, so a killed process (``kill -9``) loses
nothing committed, as before, and reopening the file replays the WAL. The last
connection to close checkpoints what is left, as SQLite always does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

#: commits between two checkpoints at most (a commit of one audit row adds 3-4 pages:
#: about SQLite's own 1,000-page interval)
EVERY = 256
#: seconds after a commit by which a checkpoint runs anyway (the WAL stays small)
INTERVAL = 2.0


class WalCheckpointer:
    """Checkpoints the WAL database at ``path`` from a thread; see the module docstring.

    ``writer`` is the connection that commits: its automatic checkpoint is turned off
    here. Call :meth:`committed` after each commit and :meth:`close` before closing
    ``writer``.
    """

    def __init__(
        self,
        writer: sqlite3.Connection,
        path: Path | str,
        *,
        every: int = EVERY,
        interval: float = INTERVAL,
    ) -> None:
        self.path = str(path)
        self.every = every
        self.interval = interval
        #: checkpoints run so far (tests and statistics)
        self.runs = 0
        self._commits = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        try:
            # opened here, used only by the thread: a file it cannot open leaves the
            # writer's automatic checkpoint on, so the WAL never grows without bound
            db = sqlite3.connect(self.path, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("%s: checkpoints stay in the commits: %s", self.path, exc)
            return
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        self._thread = threading.Thread(
            target=self._run, args=(db,), name=f"wal-checkpoint {Path(self.path).name}"
        )
        self._thread.daemon = True
        self._thread.start()

    @property
    def running(self) -> bool:
        """True while the thread checkpoints (False after :meth:`close`, or without one)."""
        return self._thread is not None and self._thread.is_alive()

    def committed(self) -> None:
        """One more commit: the first one starts the ``interval``, ``every`` of them
        wake the thread at once."""
        self._commits += 1
        if self._commits == 1 or self._commits >= self.every:
            self._wake.set()

    def stop(self) -> None:
        """Ask the thread to end (after a checkpoint it is running); returns at once."""
        self._stopping = True
        self._wake.set()

    def close(self) -> None:
        """Stop the thread and wait for it; idempotent."""
        self.stop()
        if self._thread is not None:
            self._thread.join()

    def _run(self, db: sqlite3.Connection) -> None:
        try:
            while not self._stopping:
                self._wake.wait()  # a first commit, ``every`` of them, or close()
                self._wake.clear()
                if not self._stopping and self._commits < self.every:
                    self._wake.wait(self.interval)  # later commits join this checkpoint
                    self._wake.clear()
                if self._stopping or not self._commits:
                    continue
                # Racy with committed() on purpose: a commit counted twice or not at all
                # only moves the next checkpoint a little.
                self._commits = 0
                self._checkpoint(db)
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            # Nothing committed is at risk (it is in the WAL); the next one tries again.
            log.warning("%s: checkpoint failed: %s", self.path, exc)
        self.runs += 1
