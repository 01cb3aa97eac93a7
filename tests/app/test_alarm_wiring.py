"""How the app wires the GUI's alarm model to the bus: retry, resync, lost transitions,
the engine's limits, malformed input."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hmi.app.alarms import connect_alarms, load_snapshot
from hmi.bus import Bus, expose
from hmi.bus.wire.topics import ALARM_SEQ
from hmi.core.alarms import AlarmState
from hmi.qt.alarms import AlarmModel
from tests.qt.alarm_support import T0, status, transition

LEVEL = "area1/t101/level"


class Engine:
    """Answers ``snapshot`` like the alarm engine, with whatever it is told to hold."""

    def __init__(self) -> None:
        self.statuses: list[dict[str, Any]] = []
        self.requests: list[tuple[Any, ...]] = []
        self.snapshots = 0
        self.limits_answer: dict[str, Any] | None = None

    @expose
    def snapshot(self, only_active: bool = False) -> list[dict[str, Any]]:
        self.snapshots += 1
        return list(self.statuses)

    @expose
    def limits(self) -> dict[str, Any]:
        if self.limits_answer is None:
            raise AttributeError("limits")  # an engine from before limits() existed
        return self.limits_answer

    @expose
    def acknowledge(
        self, tags: list[str], user: str = "", token: str = "", comment: str = ""
    ) -> list[dict[str, Any]]:
        self.requests.append(("acknowledge", tags, user, token, comment))
        return [{"tag": t, "ok": True, "error": ""} for t in tags]


async def _until(model: AlarmModel, predicate: Any) -> None:
    changed = asyncio.Event()
    model.changed.connect(lambda tags: changed.set())
    async with asyncio.timeout(5):
        while not predicate():
            changed.clear()
            await changed.wait()


def test_snapshot_waits_for_an_engine_and_requests_carry_the_session(qapp):
    async def main() -> None:
        bus = Bus.local()
        model = AlarmModel()
        connect_alarms(bus, model, lambda: ("olga", "token-1"))
        engine = Engine()
        engine.statuses = [status(LEVEL, AlarmState.UNACKNOWLEDGED, T0).to_dict()]
        loading = asyncio.ensure_future(load_snapshot(bus, model, retry=0.01))
        for _ in range(3):  # a few loop turns: the first call was refused, it waits to retry
            await asyncio.sleep(0)
        assert not loading.done()  # the HMI came first: no engine on the bus yet
        bus.expose("alarms", engine)
        assert await asyncio.wait_for(loading, 5) == 1
        assert model.status(LEVEL).state is AlarmState.UNACKNOWLEDGED
        assert await model.acknowledge([LEVEL], "seen") == [LEVEL]
        assert engine.requests == [("acknowledge", [LEVEL], "olga", "token-1", "seen")]
        await bus.close()

    asyncio.run(main())


def test_a_restarted_engine_is_resynced_when_its_node_joins(qapp):
    async def main() -> None:
        bus = Bus.local()
        model = AlarmModel()
        connect_alarms(bus, model, lambda: ("", ""))
        engine = Engine()
        bus.expose("alarms", engine)
        bus.publish(f"alarm/{LEVEL}", transition(LEVEL, AlarmState.UNACKNOWLEDGED, T0))
        # The engine restarts; the alarm cleared meanwhile and nobody published that.
        engine.statuses = [status(LEVEL, AlarmState.NORMAL, T0 + 60).to_dict()]
        bus.publish("$sys/node/backend-2/alive", {"id": "backend-2"})
        await _until(model, lambda: model.status(LEVEL).state is AlarmState.NORMAL)
        assert model.listed() == []
        await bus.close()

    asyncio.run(main())


def test_a_lost_broker_marks_the_alarms_stale_until_a_heartbeat_brings_a_snapshot(qapp):
    async def main() -> None:
        bus = Bus.local()
        model = AlarmModel()
        connect_alarms(bus, model, lambda: ("", ""))
        engine = Engine()
        engine.statuses = [status(LEVEL, AlarmState.UNACKNOWLEDGED, T0).to_dict()]
        bus.expose("alarms", engine)
        await load_snapshot(bus, model)
        assert model.synced
        bus.deliver("$sys/broker/lost", {"broker": "b1"})  # as the transport does
        assert not model.synced
        engine.statuses = [status(LEVEL, AlarmState.ACKNOWLEDGED, T0 + 9).to_dict()]
        bus.deliver("$sys/broker", {"id": "b1", "time": T0 + 10})  # the broker is back
        await _until(model, lambda: model.synced)
        assert model.status(LEVEL).state is AlarmState.ACKNOWLEDGED
        await bus.close()

    asyncio.run(main())


def test_a_malformed_transition_is_dropped_with_a_warning(qapp, caplog):
    async def main() -> None:
        bus = Bus.local()
        model = AlarmModel()
        connect_alarms(bus, model, lambda: ("", ""))
        bus.publish(f"alarm/{LEVEL}", {"tag": LEVEL, "event": "exploded"})
        bus.publish(f"alarm/{LEVEL}", transition(LEVEL, AlarmState.UNACKNOWLEDGED, T0))
        assert model.status(LEVEL).state is AlarmState.UNACKNOWLEDGED
        await bus.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(main())
    assert any("dropped malformed alarm transition" in r.message for r in caplog.records)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


def _numbered(payload: dict[str, Any], seq: int, epoch: str = "e1") -> dict[str, Any]:
    return payload | {"epoch": epoch, "seq": seq}


def test_a_lost_transition_reloads_the_snapshot(qapp):
    other = "area1/ft101/flow"

    async def main() -> None:
        bus = Bus.local()
        model = AlarmModel()
        connect_alarms(bus, model, lambda: ("", ""))
        engine = Engine()
        engine.statuses = [
            _numbered(status(LEVEL, AlarmState.UNACKNOWLEDGED, T0).to_dict(), 3),
            _numbered(status(other, AlarmState.UNACKNOWLEDGED, T0).to_dict(), 3),
        ]
        bus.expose("alarms", engine)
        await load_snapshot(bus, model)
        bus.publish(
            f"alarm/{LEVEL}", _numbered(transition(LEVEL, AlarmState.ACKNOWLEDGED, T0 + 1), 4)
        )
        assert engine.snapshots == 1 and model.gaps == 0  # 4 follows the snapshot's 3
        # seq 5 (the other alarm clearing) is dropped on its way; 6 arrives.
        engine.statuses = [
            _numbered(status(LEVEL, AlarmState.NORMAL, T0 + 3).to_dict(), 6),
            _numbered(status(other, AlarmState.NORMAL, T0 + 2).to_dict(), 6),
        ]
        bus.publish(f"alarm/{LEVEL}", _numbered(transition(LEVEL, AlarmState.NORMAL, T0 + 3), 6))
        assert model.gaps == 1 and not model.synced  # known to be wrong until reloaded
        await _until(model, lambda: model.synced)
        assert engine.snapshots == 2
        assert model.status(other).state is AlarmState.NORMAL
        # A restarted engine (new epoch) starts its own count: no gap by itself.
        bus.publish(
            f"alarm/{LEVEL}",
            _numbered(transition(LEVEL, AlarmState.UNACKNOWLEDGED, T0 + 9), 1, "e2"),
        )
        assert model.gaps == 1
        await bus.close()

    asyncio.run(main())


def test_a_lost_last_transition_is_found_by_the_engine_count(qapp):
    """The last transition before a quiet spell is lost: no next one shows the gap, the
    engine's count on alarm/$seq does; a count we already have changes nothing."""

    async def main() -> None:
        bus = Bus.local()
        model = AlarmModel()
        connect_alarms(bus, model, lambda: ("", ""))
        engine = Engine()
        engine.statuses = [_numbered(status(LEVEL, AlarmState.UNACKNOWLEDGED, T0).to_dict(), 3)]
        bus.expose("alarms", engine)
        await load_snapshot(bus, model)
        bus.publish(ALARM_SEQ, {"epoch": "e1", "seq": 3})
        assert model.gaps == 0 and model.synced
        # seq 4 (the acknowledge) is dropped on its way; then the engine is quiet.
        engine.statuses = [_numbered(status(LEVEL, AlarmState.ACKNOWLEDGED, T0 + 1).to_dict(), 4)]
        bus.publish(ALARM_SEQ, {"epoch": "e1", "seq": 4})
        assert model.gaps == 1 and not model.synced
        await _until(model, lambda: model.synced)
        assert model.status(LEVEL).state is AlarmState.ACKNOWLEDGED
        bus.publish(ALARM_SEQ, {"epoch": "e1", "seq": 4})
        bus.publish(ALARM_SEQ, {"epoch": "e1"})  # malformed: dropped, nothing else
        assert model.gaps == 1 and model.synced
        await bus.close()

    asyncio.run(main())


def test_the_engine_limits_come_with_the_snapshot(qapp):
    async def main() -> None:
        bus = Bus.local()
        model = AlarmModel()
        connect_alarms(bus, model, lambda: ("", ""))
        engine = Engine()
        bus.expose("alarms", engine)
        await load_snapshot(bus, model)  # an engine without limits(): defaults kept
        assert model.max_shelve == 12 * 3600.0
        assert model.may("remove_from_service", {"operator"}) is None  # unknown: ask anyway
        engine.limits_answer = {
            "max_shelve": 1800.0,
            "checks_roles": True,
            "roles": {"remove_from_service": ["admin", "engineer"]},
        }
        await load_snapshot(bus, model)
        assert model.max_shelve == 1800.0
        assert model.may("remove_from_service", {"operator"}) is False
        assert model.may("remove_from_service", {"operator", "engineer"}) is True
        await bus.close()

    asyncio.run(main())
