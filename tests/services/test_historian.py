"""The historian actor on a local bus: samples in, history out over RPC."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import MappingProxyType

from hmi.bus import Bus, Supervisor, VirtualClock, encode_samples
from hmi.core.address import ModbusAddress
from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample
from hmi.core.tag import Source, Tag
from hmi.project.model import HistorianConfig, Project
from hmi.services.historian import Historian

T0 = 1_700_000_000.0
BAD = Quality.bad(Reason.NO_COMMUNICATION)


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _session(path: Path) -> dict[str, object]:
    bus = Bus.local(VirtualClock(start=T0))
    async with Supervisor(bus) as sup:
        historian = await sup.start(Historian(path, flush_interval=3600.0))
        for i in range(100):
            quality = BAD if 50 <= i < 60 else Quality.good()
            batch = {"a/b/x": Sample(float(i), quality, T0 + i, 0.0)}
            batch["a/b/flat"] = Sample(1.0, Quality.good(), T0 + i, 0.0)
            bus.publish("tag/dev1", encode_samples(batch))
        bus.publish("tag/dev1", "not a batch")
        written = await bus.call("historian", "flush")
        raw = await bus.call("historian", "raw", "a/b/x", T0 + 45, T0 + 65)
        buckets = await bus.call("historian", "buckets", "a/b/x", T0, T0 + 100, 10)
        later = await bus.call("historian", "buckets", "a/b/x", T0 + 45.5, T0 + 100, 10)
        tags = await bus.call("historian", "tags")
        stats = await bus.call("historian", "stats")
        assert historian.stored == written
    await bus.close()
    return {
        "written": written,
        "raw": raw,
        "buckets": buckets,
        "later": later,
        "tags": tags,
        "stats": stats,
    }


def test_samples_from_the_bus_come_back_over_rpc(tmp_path: Path) -> None:
    out = run(_session(tmp_path / "history.sqlite"))
    assert isinstance(out, dict)
    # a/b/x changes every sample (100 rows, 10 of them BAD); a/b/flat is stored at its
    # first sample and again after the maximum interval (60 s).
    assert out["written"] == 102
    raw = out["raw"]
    assert raw["t"][0] == T0 + 44  # the sample before the start
    assert raw["value"][6:16] == [None] * 10 and raw["quality"][6:16] == [2] * 10
    b = out["buckets"]
    assert len(b["t"]) == 10 and b["count"][5] == 0 and b["bad"][5] == 10  # the gap
    assert b["avg"][0] == 4.5
    assert (b["first"][0], b["last"][0], b["first_t"][0], b["last_t"][0]) == (0, 9, T0, T0 + 9)
    # A range starting between rows begins with the value in effect at its start
    later = out["later"]
    assert (later["t"][0], later["first_t"][0], later["last"][0]) == (T0 + 45.5, T0 + 45, 45.0)
    assert later["count"][0] == 0 and later["t"][1] == T0 + 45.5  # then the first bucket
    assert out["tags"] == ["a/b/flat", "a/b/x"]
    assert out["stats"]["malformed"] == 1 and out["stats"]["pending"] == 0


def test_stopping_flushes_what_is_buffered(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"

    async def session() -> None:
        bus = Bus.local(VirtualClock(start=T0))
        async with Supervisor(bus) as sup:
            await sup.start(Historian(path, flush_interval=3600.0))
            bus.publish("tag/dev1", encode_samples({"a/b/x": Sample(1.0, Quality.good(), T0)}))
        await bus.close()

    run(session())
    from hmi.services.history_store import HistoryStore

    with HistoryStore(path, readonly=True) as store:
        assert store.count("a/b/x") == 1


def test_the_flush_loop_runs_on_the_bus_clock(tmp_path: Path) -> None:
    async def session() -> int:
        clock = VirtualClock(start=T0)
        bus = Bus.local(clock)
        async with Supervisor(bus) as sup:
            historian = await sup.start(Historian(tmp_path / "h.sqlite", flush_interval=1.0))
            bus.publish("tag/d", encode_samples({"a/b/x": Sample(1.0, Quality.good(), T0)}))
            for _ in range(50):  # the write runs on a thread: give it real time to land
                await clock.run_for(1.0)
                if historian.stored:
                    break
                await asyncio.sleep(0.01)
            stored = historian.stored
        await bus.close()
        return stored

    assert run(session()) == 1


def test_for_project_uses_the_data_folder_and_source_deadbands(tmp_path: Path) -> None:
    tag = Tag(
        "a/b/x",
        source=Source("plc", ModbusAddress.parse("hr:1"), deadband=0.5),
    )
    project = Project(
        name="p",
        path=tmp_path / "plant.yaml",
        devices=MappingProxyType({}),
        tags=MappingProxyType({"a/b/x": tag}),
        screens=MappingProxyType({}),
        users=MappingProxyType({}),
        historian=HistorianConfig(flush_interval=2.0, max_interval=30.0, retention_days=7.0),
    )
    historian = Historian.for_project(project)
    assert historian.path == tmp_path / "data" / "history.sqlite"
    assert historian.flush_interval == 2.0 and historian.retention == 7 * 86400.0
    assert historian.recorder.deadbands == {"a/b/x": 0.5}
    assert historian.recorder.max_interval == 30.0
    historian._writer.shutdown()
    historian._reader.shutdown()


def test_a_stopped_historian_leaves_a_gap_not_a_flat_line(tmp_path: Path) -> None:
    """A quiet setpoint: rows only by heartbeat; the historian is down for 10 minutes."""
    path = tmp_path / "history.sqlite"

    async def record(start: float, seconds: int) -> None:
        clock = VirtualClock(start=start)
        bus = Bus.local(clock)
        async with Supervisor(bus) as sup:
            historian = await sup.start(Historian(path, flush_interval=600.0, max_interval=60.0))
            # the driver publishes the setpoint once (on change), then nothing
            sample = Sample(2.5, Quality.good(), start, start)
            bus.publish("tag/dev1", encode_samples({"a/b/sp": sample}))
            for _ in range(seconds // 10):
                clock.advance(10.0)
                await historian.flush()  # what the flush loop does: heartbeats included
        await bus.close()

    async def query() -> dict[str, list[float]]:
        clock = VirtualClock(start=T0 + 1800)
        bus = Bus.local(clock)
        async with Supervisor(bus) as sup:
            await sup.start(Historian(path, flush_interval=1.0, max_interval=60.0))
            answer = await bus.call("historian", "buckets", "a/b/sp", T0, T0 + 1800, 180)
        await bus.close()
        return answer  # type: ignore[no-any-return]

    run(record(T0, 600))  # recording ...
    run(record(T0 + 1200, 590))  # ... stopped from T0 + 600 to T0 + 1200, then again
    b = run(query())
    assert isinstance(b, dict)
    gaps = [t for t, gap in zip(b["t"], b["gap"], strict=True) if gap]
    assert gaps == [T0 + 600]  # the last row before the stop; nothing after it is held
    assert min(b["t"]) == T0 and max(b["t"]) >= T0 + 1740  # heartbeats: rows on both sides
    assert set(b["avg"]) == {2.5} and sum(b["bad"]) == 0
