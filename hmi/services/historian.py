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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from hmi.bus import Actor, MalformedPayload, decode_samples, expose
from hmi.project.model import Project
from hmi.services.history_store import HistoryStore
from hmi.services.recorder import ChangeRecorder

log = logging.getLogger(__name__)
T = TypeVar("T")

#: retention runs this often (seconds of the bus clock)
PURGE_EVERY = 3600.0
#: rows kept in memory at most when the disk refuses writes (then the oldest are dropped)
MAX_BACKLOG = 2_000_000
#: seconds a flush may run late (a busy loop, a slow disk) before rows that should have
#: been written look missing: part of the silence that ``buckets`` reports as a gap
GAP_SLACK = 5.0


class Historian(Actor):
    """Stores samples from the bus and answers history queries."""

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
    ) -> None:
        super().__init__(name)
        self.path = Path(path)
        self.flush_interval = flush_interval
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
        self.stored = 0
        self.dropped = 0
        self.malformed = 0
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="historian-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="historian-reader")
        self._store: HistoryStore | None = None
        self._query: HistoryStore | None = None
        self._backlog: list[tuple[str, float, Any, int]] = []
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
        self._store = await self._write(HistoryStore, self.path)
        self._query = await self._read(partial(HistoryStore, self.path, readonly=True))
        self.subscribe(self.pattern, self._on_samples)

    async def run(self) -> None:
        while not self.stopping:
            await self.clock.sleep(self.flush_interval)
            await self.flush()
            now = self.clock.time()
            if now - self._last_purge >= PURGE_EVERY:
                self._last_purge = now
                await self.purge(now - self.retention)

    async def teardown(self) -> None:
        try:
            await self.flush()
        finally:
            if self._store is not None:
                await self._write(self._store.close)
            if self._query is not None:
                await self._read(self._query.close)
            self._writer.shutdown()
            self._reader.shutdown()

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

    # -- RPC ------------------------------------------------------------------------------
    @expose
    async def flush(self) -> int:
        """Write what is buffered now (one transaction); returns the rows written."""
        if self._store is None:
            return 0
        self.recorder.heartbeat(self.clock.time())
        rows = self._backlog + self.recorder.take()
        self._backlog = []
        if not rows:
            return 0
        try:
            written = await self._write(self._store.insert, rows)
        except Exception:
            # Keep the rows for the next flush (disk full, locked); bounded, oldest go first.
            log.exception("historian: writing %d rows failed; will retry", len(rows))
            overflow = len(rows) - MAX_BACKLOG
            if overflow > 0:
                self.dropped += overflow
                rows = rows[overflow:]
            self._backlog = rows
            return 0
        self.stored += written
        return written

    async def purge(self, before: float) -> int:
        """Delete history older than ``before`` (retention); returns the rows deleted."""
        if self._store is None:
            return 0
        deleted = await self._write(self._store.purge, before)
        await self._write(self._store.checkpoint)
        return deleted

    @expose
    async def raw(self, tag: str, start: float, end: float, limit: int = 100_000) -> dict[str, Any]:
        """Stored samples of ``tag`` in ``[start, end)`` plus the one before ``start``."""
        assert self._query is not None
        series = await self._read(self._query.raw, tag, start, end, limit)
        return series.to_dict()

    @expose
    async def buckets(self, tag: str, start: float, end: float, width: int) -> dict[str, Any]:
        """``tag`` decimated to ``width`` buckets (one per pixel): min/max/avg, gaps.

        ``gap`` marks buckets after which nothing was recorded for longer than
        :attr:`gap_after` (the historian was not running): that stretch is no data, not
        an unchanged value.
        """
        assert self._query is not None
        query = partial(self._query.buckets, gap_after=self.gap_after, now=self.clock.time())
        result = await self._read(query, tag, start, end, int(width))
        return result.to_dict()

    @expose
    async def tags(self) -> list[str]:
        """Every tag with history."""
        assert self._query is not None
        return await self._read(self._query.tags)

    @expose
    def stats(self) -> dict[str, int]:
        """Counters: samples offered, rows kept, stored, buffered, dropped, malformed."""
        return {
            "offered": self.recorder.offered,
            "kept": self.recorder.kept,
            "stored": self.stored,
            "pending": self.recorder.pending + len(self._backlog),
            "dropped": self.dropped + self.recorder.overflow,
            "malformed": self.malformed,
        }
