"""The historian actor: samples from the bus into SQLite, queries back over RPC.

It subscribes to every sample batch (``tag/#``), keeps what :class:`ChangeRecorder` says is
worth keeping, and writes the buffer once per ``flush_interval`` in one transaction. SQLite
work runs on two threads of its own (one writer, one reader) so the event loop never waits
for the disk and a long query never delays a flush.

RPC target ``historian`` (see docs/historian.md)::

    raw(tag, start, end, limit=100000)   -> {"t": [...], "value": [...], "quality": [...]}
    buckets(tag, start, end, width)      -> {"t", "min", "max", "avg", "count", "bad", "gap"}
    tags()                               -> [names]
    flush()                              -> rows written
    stats()                              -> counters

It never dies of its storage (docs/historian.md, "When the disk is full"): a write that
fails is retried with a growing pause (up to :data:`MAX_BACKOFF`), its rows waiting in a
bounded buffer (the oldest dropped and counted past ``max_backlog``); a retention purge
that fails is tried again :data:`PURGE_RETRY` later; a store that cannot be opened at
start is opened later. Failures and losses go to the :class:`~hmi.services.health.
StoreHealth`, which the alarm engine alarms (``system/history/storage``,
``system/history/loss``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from hmi.bus import Actor, MalformedPayload, decode_samples, expose
from hmi.project.model import Project
from hmi.services.health import HISTORY, HISTORY_LOSS, StoreHealth, describe
from hmi.services.history_store import HistoryStore, Row
from hmi.services.recorder import ChangeRecorder

log = logging.getLogger(__name__)
T = TypeVar("T")

#: retention runs this often (seconds of the bus clock)
PURGE_EVERY = 3600.0
#: a retention purge that failed is tried again this much later
PURGE_RETRY = 60.0
#: rows kept in memory at most when the disk refuses writes (then the oldest are dropped)
MAX_BACKLOG = 2_000_000
#: the longest pause between two attempts to write to a failing store (seconds)
MAX_BACKOFF = 60.0

#: returns why history must not be written now (the data disk is nearly full), or None
DiskCheck = Callable[[], str | None]


class StoreUnavailable(RuntimeError):
    """The history file could not be opened (yet); the message says why."""


#: seconds a flush may run late (a busy loop, a slow disk) before rows that should have
#: been written look missing: part of the silence that ``buckets`` reports as a gap
GAP_SLACK = 5.0


class Historian(Actor):
    """Stores samples from the bus and answers history queries.

    ``health`` hears of storage failures and losses; ``disk_check`` (called before each
    write) may hold writing back while the data disk is nearly full, so the audit trail
    and the alarm journal keep room (the rows wait in the buffer meanwhile).
    """

    name = "historian"

    def __init__(
        self,
        path: Path | str,
        *,
        flush_interval: float = 1.0,
        max_interval: float = 60.0,
        retention_days: float = 30.0,
        deadbands: Mapping[str, float] | None = None,
        pattern: str = "tag/#",
        name: str | None = None,
        gap_after: float | None = None,
        health: StoreHealth | None = None,
        max_backlog: int = MAX_BACKLOG,
        disk_check: DiskCheck | None = None,
        retry_interval: float | None = None,
    ) -> None:
        super().__init__(name)
        self.path = Path(path)
        self.flush_interval = flush_interval
        #: the first pause after a failed write (doubling up to MAX_BACKOFF)
        self.retry_interval = flush_interval if retry_interval is None else retry_interval
        #: a silence longer than this after a tag's row is "no data" in ``buckets``. While
        #: the historian runs, a tag gets a row at least every ``max_interval`` (the
        #: heartbeat runs at each flush, so up to a flush later), written up to a flush
        #: later again; plus slack for a late flush.
        self.gap_after = (
            gap_after if gap_after is not None else max_interval + 2 * flush_interval + GAP_SLACK
        )
        self.retention = retention_days * 86400.0
        self.pattern = pattern
        self.recorder = ChangeRecorder(max_interval, deadbands)
        self.health = health
        self.max_backlog = max_backlog
        self.disk_check = disk_check
        self.stored = 0
        #: rows dropped from the backlog (full while the store failed), oldest first
        self.dropped = 0
        self.malformed = 0
        self.write_errors = 0
        self.purge_errors = 0
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="historian-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="historian-reader")
        self._store: HistoryStore | None = None
        self._query: HistoryStore | None = None
        self._open_error = ""
        #: rows taken from the recorder and not stored yet (a write failed), oldest first
        self._backlog: list[Row] = []
        #: rows handed to the writer thread right now (still pending until it answers)
        self._writing = 0
        #: consecutive failed writes, and when the next attempt is due (bus clock)
        self._failures = 0
        self._retry_at = -math.inf
        self._lost_reported = 0
        self._last_purge = float("-inf")

    @classmethod
    def for_project(cls, project: Project, **options: Any) -> Historian:
        """A historian configured from the project's ``historian:`` section.

        A relative path is relative to the project's folder (its data folder).
        ``deadbands`` default to each tag's source deadband.
        """
        config = project.historian
        path = config.path if config.path.is_absolute() else project.folder / config.path
        deadbands = {
            name: tag.source.deadband
            for name, tag in project.tags.items()
            if tag.source is not None and tag.source.deadband > 0
        }
        options.setdefault("deadbands", deadbands)
        return cls(
            path,
            flush_interval=config.flush_interval,
            max_interval=config.max_interval,
            retention_days=config.retention_days,
            **options,
        )

    # -- life -----------------------------------------------------------------------------
    async def setup(self) -> None:
        # Samples are buffered from the start even if the file cannot be opened yet (a
        # full disk, a folder not mounted): the run loop keeps trying.
        await self._open()
        self.subscribe(self.pattern, self._on_samples)

    async def run(self) -> None:
        while not self.stopping:
            await self.clock.sleep(self.flush_interval)
            try:
                await self.step()
            except Exception:  # never let one bad turn end the historian
                log.exception("historian: unexpected error; carrying on")

    async def step(self) -> None:
        """One turn of the loop (every ``flush_interval``): a write when due (a failing
        store is tried again after its pause), and the hourly retention."""
        now = self.clock.time()
        if now >= self._retry_at:
            await self.flush()
        else:
            self._take()  # keep the buffer bounded while waiting to retry
        if self._store is not None and now - self._last_purge >= PURGE_EVERY:
            try:
                await self.purge(now - self.retention)
            except Exception as exc:
                # The disk is full exactly when the purge is needed: try again soon.
                self.purge_errors += 1
                self._last_purge = now - PURGE_EVERY + PURGE_RETRY
                log.error(
                    "historian: retention purge failed (%s); again in %.0f s",
                    describe(exc),
                    PURGE_RETRY,
                )
            else:
                self._last_purge = now

    async def teardown(self) -> None:
        try:
            await self.flush()
        finally:
            if self._backlog:
                log.error("historian: %d rows not stored at stop", len(self._backlog))
            if self._store is not None:
                await self._write(self._store.close)
            if self._query is not None:
                await self._read(self._query.close)
            self._writer.shutdown()
            self._reader.shutdown()

    async def _open(self) -> bool:
        """Open the writer's and the reader's connections if not open; False when failed."""
        try:
            if self._store is None:
                self._store = await self._write(HistoryStore, self.path)
            if self._query is None:
                self._query = await self._read(partial(HistoryStore, self.path, readonly=True))
        except Exception as exc:
            self._open_error = describe(exc)
            self._failed(f"cannot open {self.path}: {self._open_error}")
            return False
        self._open_error = ""
        return True

    def _on_samples(self, topic: str, payload: Any) -> None:
        try:
            batch = decode_samples(payload, self.clock.time())
        except MalformedPayload as exc:
            self.malformed += 1
            log.warning("historian: dropped malformed samples on %r: %s", topic, exc)
            return
        self.recorder.offer_batch(batch)

    async def _write(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, func, *args)

    async def _read(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reader, func, *args)

    # -- failures -------------------------------------------------------------------------
    def _take(self) -> None:
        """Move the recorder's rows to the backlog; past ``max_backlog`` the oldest go."""
        self._backlog.extend(self.recorder.take())
        overflow = len(self._backlog) - self.max_backlog
        if overflow > 0:
            self.dropped += overflow
            del self._backlog[:overflow]
        self._report_losses()

    @property
    def lost(self) -> int:
        """Rows lost so far: dropped from the full backlog, or refused by the full recorder."""
        return self.dropped + self.recorder.overflow

    def _report_losses(self) -> None:
        lost = self.lost
        if lost > self._lost_reported and self.health is not None:
            self._lost_reported = lost
            self.health.report(HISTORY_LOSS, f"{lost} rows lost: the history store failed")

    def _failed(self, problem: str) -> None:
        """A write (or the opening) failed: report it, and wait longer before the next."""
        self.write_errors += 1
        self._failures += 1
        pause = min(MAX_BACKOFF, self.retry_interval * 2 ** min(self._failures - 1, 30))
        self._retry_at = self.clock.time() + pause
        log.error("historian: %s; %d rows wait, next try in %.0f s", problem, self.pending, pause)
        if self.health is not None:
            self.health.report(HISTORY, problem)

    def _succeeded(self) -> None:
        self._failures = 0
        self._retry_at = -math.inf
        if self.health is not None:
            self.health.report(HISTORY, None)
            if not self._backlog and self._lost_reported:
                # The losses stay counted (stats); the alarm returns to normal, to be
                # acknowledged, once nothing waits any more.
                self.health.report(HISTORY_LOSS, None)

    # -- RPC ------------------------------------------------------------------------------
    @expose
    async def flush(self) -> int:
        """Write what is buffered now (one transaction); returns the rows written."""
        self.recorder.heartbeat(self.clock.time())
        self._take()
        if self._store is None and not await self._open():
            return 0
        assert self._store is not None
        if not self._backlog:
            return 0
        if self.disk_check is not None:
            held = self.disk_check()
            if held:
                self._failed(held)
                return 0
        rows, self._backlog = self._backlog, []
        self._writing += len(rows)
        try:
            written = await self._write(self._store.insert, rows)
        except Exception as exc:
            # Keep the rows for the next try (disk full, locked), ahead of newer ones.
            self._backlog[:0] = rows
            self._take()
            self._failed(f"writing {len(rows)} rows failed: {describe(exc)}")
            return 0
        finally:
            self._writing -= len(rows)
        self.stored += written
        self._succeeded()
        return written

    async def purge(self, before: float) -> int:
        """Delete history older than ``before`` (retention); returns the rows deleted.
        Raises the store's error (the run loop retries later)."""
        if self._store is None:
            return 0
        deleted = await self._write(self._store.purge, before)
        await self._write(self._store.checkpoint)
        return deleted

    def _reader_store(self) -> HistoryStore:
        if self._query is None:
            raise StoreUnavailable(f"history unavailable: {self._open_error or 'not open'}")
        return self._query

    @expose
    async def raw(self, tag: str, start: float, end: float, limit: int = 100_000) -> dict[str, Any]:
        """Stored samples of ``tag`` in ``[start, end)`` plus the one before ``start``."""
        series = await self._read(self._reader_store().raw, tag, start, end, limit)
        return series.to_dict()

    @expose
    async def buckets(self, tag: str, start: float, end: float, width: int) -> dict[str, Any]:
        """``tag`` decimated to ``width`` buckets (one per pixel): min/max/avg, gaps.

        ``gap`` marks buckets after which nothing was recorded for longer than
        :attr:`gap_after` (the historian was not running): that stretch is no data, not
        an unchanged value.
        """
        store = self._reader_store()
        query = partial(store.buckets, gap_after=self.gap_after, now=self.clock.time())
        result = await self._read(query, tag, start, end, int(width))
        return result.to_dict()

    @expose
    async def tags(self) -> list[str]:
        """Every tag with history."""
        return await self._read(self._reader_store().tags)

    @property
    def pending(self) -> int:
        """Rows not stored yet: in the recorder, in the backlog, and being written."""
        return self.recorder.pending + len(self._backlog) + self._writing

    @expose
    def stats(self) -> dict[str, int]:
        """Counters: samples offered, rows kept, stored, pending (buffered, waiting after a
        failed write, or being written), dropped (lost), malformed, write and purge errors."""
        return {
            "offered": self.recorder.offered,
            "kept": self.recorder.kept,
            "stored": self.stored,
            "pending": self.pending,
            "backlog": len(self._backlog) + self._writing,
            "dropped": self.lost,
            "malformed": self.malformed,
            "write_errors": self.write_errors,
            "purge_errors": self.purge_errors,
        }
