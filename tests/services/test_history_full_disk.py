"""The historian on a full disk (issue 15, items 2 and 3): nothing under a wrong tag, the
real error reported, the backlog counted and bounded, a purge that fails retried, and
writing again once the space is back. The disk is full by ``PRAGMA max_page_count``
(tests/services/full_disk.py); time is the bus's virtual clock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hmi.bus import Bus, RemoteError, Supervisor, VirtualClock, encode_samples
from hmi.core.quality import Quality
from hmi.core.sample import Sample
from hmi.services import health as items
from hmi.services.health import StoreHealth
from hmi.services.historian import PURGE_EVERY, PURGE_RETRY, Historian
from hmi.services.history_store import HistoryStore
from tests.services.full_disk import SAMPLES, fill, free

T0 = 1_700_000_000.0


def rows_by_tag(path: Path) -> dict[str, list[tuple[float, Any]]]:
    """Every stored row, by the name its tag id has in ``tags`` (None: an id of no tag)."""
    with sqlite3.connect(path) as db:
        names = dict(db.execute("SELECT id, name FROM tags"))
        out: dict[str, list[tuple[float, Any]]] = {}
        for tag_id, t, value in db.execute("SELECT tag_id, t, value FROM samples ORDER BY t"):
            out.setdefault(names.get(tag_id, f"<no tag {tag_id}>"), []).append((t / 1000, value))
    return out


def test_a_failed_insert_leaves_no_row_under_a_wrong_tag_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with HistoryStore(path) as store:
        store.insert([("a/x", T0 + i, float(i), 0) for i in range(50)])
        fill(store._db, SAMPLES)
        # New tags get ids, then their samples do not fit: the whole transaction goes,
        # and the error is the disk's, not "cannot rollback - no transaction is active".
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            store.insert([("b/y", T0, 1.0, 0), ("c/z", T0, 2.0, 0)])
        free(store._db, SAMPLES)
        # The ids the failed transaction handed out are handed out again, to other names.
        store.insert([("d/w", T0 + 1, 4.0, 0), ("b/y", T0 + 2, 5.0, 0), ("c/z", T0 + 3, 6.0, 0)])
        assert store.tags() == ["a/x", "b/y", "c/z", "d/w"]
    stored = rows_by_tag(path)
    assert stored.keys() == {"a/x", "b/y", "c/z", "d/w"}  # no row under an id of no tag
    assert stored["d/w"] == [(T0 + 1, 4.0)]
    assert stored["b/y"] == [(T0 + 2, 5.0)]
    assert stored["c/z"] == [(T0 + 3, 6.0)]
    assert len(stored["a/x"]) == 50


def test_a_new_tag_alone_is_cached_only_once_committed(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "history.sqlite") as store:
        store.insert([("a/x", T0, 1.0, 0)])
        fill(store._db, SAMPLES)
        # Filling the tags table too: the name itself cannot be stored.
        with pytest.raises(sqlite3.OperationalError, match="full"):
            for n in range(10_000):
                store.tag_id(f"some/long/tag/name/{n:05d}" * 4)
        free(store._db, SAMPLES)
        cached = dict(store._ids)
        in_file = dict(store._db.execute("SELECT name, id FROM tags").fetchall())
        assert cached == in_file  # the cache knows exactly the committed names


Scenario = Callable[[Bus, VirtualClock, Historian, StoreHealth], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario, **options: Any) -> None:
    """Run ``scenario`` with a historian on a virtual clock, and its health.

    The historian's own loop sleeps for ever (``flush_interval``): the scenario turns it
    with :meth:`Historian.step` after moving the clock, so each write on the writer
    thread is awaited, never raced. Its failed writes are tried again 1 s later, then
    2, 4, ... up to ``MAX_BACKOFF``.
    """

    async def main() -> None:
        clock = VirtualClock(start=T0)
        bus = Bus.local(clock)
        health = StoreHealth()
        sup = Supervisor(bus)
        async with sup:
            historian = await sup.start(
                Historian(
                    tmp_path / "history.sqlite",
                    health=health,
                    flush_interval=1e9,
                    retry_interval=1.0,
                    max_interval=1e6,
                    **options,
                )
            )
            await scenario(bus, clock, historian, health)
            assert sup.actors.get("historian") is historian  # never crashed
        assert "historian" not in sup.failed
        await bus.close()

    asyncio.run(main())


def publish(bus: Bus, clock: VirtualClock, count: int, start: int = 0) -> None:
    """``count`` batches of three tags, value ``start``, ``start + 1``, ..., a second apart."""
    for i in range(start, start + count):
        clock.advance(1.0)
        t = clock.time()
        bus.publish(
            "tag/plc",
            encode_samples({f"p/t/{k}": Sample(float(i), Quality.good(), t, t) for k in "abc"}),
        )


async def later(clock: VirtualClock, historian: Historian, seconds: float) -> None:
    """``seconds`` on, and a turn of the historian's loop."""
    clock.advance(seconds)
    await historian.step()


def test_the_historian_survives_a_full_disk_at_purge_time_and_writes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A WAL checkpoint on a full disk fails as SQLite says (max_page_count does not make
    # a checkpoint fail: the file's pages exist already), so that one is made to.
    full = {"now": False}
    checkpoint = HistoryStore.checkpoint

    def failing_checkpoint(self: HistoryStore) -> None:
        if full["now"]:
            raise sqlite3.OperationalError("database or disk is full")
        checkpoint(self)

    monkeypatch.setattr(HistoryStore, "checkpoint", failing_checkpoint)

    async def scenario(
        bus: Bus, clock: VirtualClock, historian: Historian, health: StoreHealth
    ) -> None:
        await later(clock, historian, 1.0)  # the first turn purges (nothing yet)
        assert historian._store is not None
        publish(bus, clock, 5)
        await later(clock, historian, 1.0)
        assert historian.stats()["stored"] == 15

        fill(historian._store._db, SAMPLES)
        full["now"] = True
        publish(bus, clock, 3, start=5)
        # An hour later: the write fails and the purge's checkpoint fails; it lives on.
        await later(clock, historian, PURGE_EVERY)
        stats = historian.stats()
        assert (stats["purge_errors"], stats["write_errors"], stats["stored"]) == (1, 1, 15)
        assert stats["pending"] == stats["backlog"] == 9  # the backlog is pending
        assert health.problems()[items.HISTORY] == "writing 9 rows failed: database or disk is full"

        # Samples keep coming while the disk is full, and wait; the next tries fail too.
        publish(bus, clock, 2, start=8)
        await later(clock, historian, 1.0)
        await later(clock, historian, 2.0)
        assert historian.stats()["pending"] == 15 and historian.stats()["write_errors"] == 3

        # The space comes back: the next try (after its pause) writes everything ...
        free(historian._store._db, SAMPLES)
        full["now"] = False
        await later(clock, historian, 1.0)
        assert historian.stats()["stored"] == 15  # still pausing: 4 s after the 3rd failure
        await later(clock, historian, 3.0)
        stats = historian.stats()
        assert (stats["stored"], stats["pending"], stats["dropped"]) == (30, 0, 0)
        assert items.HISTORY not in health.problems()
        # ... and the purge that failed runs again a minute after it failed, and works.
        await later(clock, historian, PURGE_RETRY)
        assert historian.stats()["purge_errors"] == 1
        assert historian._last_purge == clock.time()
        series = await bus.call("historian", "raw", "p/t/a", T0, clock.time() + 1)
        assert series["value"] == [float(i) for i in range(10)]

    run(tmp_path, scenario, retention_days=1e4)


def test_a_full_backlog_drops_the_oldest_counts_and_alarms_the_loss(tmp_path: Path) -> None:
    async def scenario(
        bus: Bus, clock: VirtualClock, historian: Historian, health: StoreHealth
    ) -> None:
        await later(clock, historian, 1.0)
        assert historian._store is not None
        fill(historian._store._db, SAMPLES)
        publish(bus, clock, 10)  # 30 rows for a backlog of 12
        await later(clock, historian, 1.0)
        stats = historian.stats()
        assert (stats["pending"], stats["dropped"]) == (12, 18)
        assert health.problems()[items.HISTORY_LOSS] == "18 rows lost: the history store failed"

        free(historian._store._db, SAMPLES)
        await later(clock, historian, 1.0)
        assert historian.stats()["stored"] == 12
        assert historian.stats()["dropped"] == 18  # still counted
        assert items.HISTORY_LOSS not in health.problems()  # the alarm returns to normal
        series = await bus.call("historian", "raw", "p/t/a", T0, clock.time() + 1)
        assert series["value"] == [6.0, 7.0, 8.0, 9.0]  # the newest were kept

    run(tmp_path, scenario, max_backlog=12)


def test_history_waits_while_the_disk_is_nearly_full(tmp_path: Path) -> None:
    held: dict[str, str | None] = {"why": "data disk nearly full: 1.0 MB free"}

    async def scenario(
        bus: Bus, clock: VirtualClock, historian: Historian, health: StoreHealth
    ) -> None:
        publish(bus, clock, 3)
        await later(clock, historian, 1.0)
        assert historian.stats()["stored"] == 0 and historian.stats()["pending"] == 9
        assert health.problems()[items.HISTORY] == "data disk nearly full: 1.0 MB free"
        held["why"] = None
        await later(clock, historian, 1.0)
        assert historian.stats()["stored"] == 9
        assert items.HISTORY not in health.problems()

    run(tmp_path, scenario, disk_check=lambda: held["why"])


def test_a_history_file_that_cannot_be_opened_is_opened_later(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")

    async def main() -> None:
        clock = VirtualClock(start=T0)
        bus = Bus.local(clock)
        health = StoreHealth()
        async with Supervisor(bus) as sup:
            historian = await sup.start(
                Historian(
                    blocker / "history.sqlite",
                    health=health,
                    flush_interval=1e9,
                    retry_interval=1.0,
                )
            )
            publish(bus, clock, 2)
            await later(clock, historian, 1.0)
            assert "cannot open" in health.problems()[items.HISTORY]
            with pytest.raises(RemoteError, match="history unavailable"):
                await bus.call("historian", "tags")
            blocker.unlink()  # the folder can be made now
            await later(clock, historian, 2.0)
            assert historian.stats()["stored"] == 6
            assert await bus.call("historian", "tags") == ["p/t/a", "p/t/b", "p/t/c"]
            assert items.HISTORY not in health.problems()
        await bus.close()

    asyncio.run(main())


def test_pending_counts_the_rows_being_written(tmp_path: Path) -> None:
    """The issue saw ``pending`` 0 with 85k rows on their way to a failing disk."""

    async def scenario(
        bus: Bus, clock: VirtualClock, historian: Historian, health: StoreHealth
    ) -> None:
        gate = threading.Event()
        historian._writer.submit(gate.wait)  # the writer thread is busy until the gate opens
        publish(bus, clock, 4)
        writing = asyncio.ensure_future(historian.step())
        for _ in range(5):
            await asyncio.sleep(0)
        assert writing.done() is False
        stats = historian.stats()
        assert (stats["pending"], stats["backlog"], stats["stored"]) == (12, 12, 0)
        gate.set()
        await writing
        assert (historian.stats()["pending"], historian.stats()["stored"]) == (0, 12)

    run(tmp_path, scenario)
