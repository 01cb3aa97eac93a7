"""The alarm engine on a full disk (issue 15, item 1): an operator's request changes an
alarm only together with its journal and audit rows, and fails clearly otherwise; what
the process does is still annunciated, and journalled once the space is back; every
failing store raises its system alarm. The disk is full by ``PRAGMA max_page_count``
(tests/services/full_disk.py); time is the bus's virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hmi.bus import Bus, RemoteError, Supervisor, VirtualClock, encode_samples
from hmi.bus.wire.topics import ALARM_SEQ
from hmi.core.quality import Quality
from hmi.core.sample import Sample
from hmi.core.tag import AlarmLimits, Tag
from hmi.project.model import SystemAlarmsConfig
from hmi.services import health as items
from hmi.services.alarm_engine import JOURNAL_RETRY, AlarmEngine
from hmi.services.alarm_journal import AlarmJournal
from hmi.services.audit import AuditLog
from hmi.services.health import StoreHealth
from tests.services.full_disk import AUDIT, JOURNAL, fill, free

T0 = 1_700_000_000.0
LEVEL, FLOW = "plant/tank/level", "plant/pump/flow"
TAGS = {
    LEVEL: Tag(LEVEL, alarms=AlarmLimits(hi=80.0, priority=2)),
    FLOW: Tag(FLOW, alarms=AlarmLimits(lo=10.0, priority=3)),
}


@dataclass
class Plant:
    bus: Bus
    clock: VirtualClock
    engine: AlarmEngine
    audit: AuditLog
    health: StoreHealth
    seen: list[dict[str, Any]]

    def publish(self, **values: float) -> None:
        t = self.clock.time()
        batch = {
            {"level": LEVEL, "flow": FLOW}[k]: Sample(v, Quality.good(), t, t)
            for k, v in values.items()
        }
        self.bus.publish("tag/plc", encode_samples(batch))

    def state(self, tag: str) -> str:
        return self.engine.alarms[tag].state.value

    @property
    def journal(self) -> Any:
        assert self.engine._journal is not None
        return self.engine._journal._db

    def events(self, tag: str) -> list[tuple[str, str]]:
        """``(event, actor)`` of what ``alarm/<tag>`` carried."""
        return [(p["event"], p["actor"]) for p in self.seen if p["tag"] == tag]


Scenario = Callable[[Plant], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario) -> list[dict[str, Any]]:
    """Run ``scenario``; returns the journal's rows after the engine stopped."""

    async def main() -> None:
        clock = VirtualClock(start=T0)
        bus = Bus.local(clock)
        health = StoreHealth()
        seen: list[dict[str, Any]] = []
        bus.subscribe("alarm/#", lambda t, p: None if t == ALARM_SEQ else seen.append(p))
        with AuditLog(tmp_path / "audit.sqlite", health=health) as audit:
            async with Supervisor(bus) as sup:
                engine = await sup.start(
                    AlarmEngine(
                        TAGS,
                        tmp_path / "alarms.sqlite",
                        audit=audit,
                        health=health,
                        system_alarms=SystemAlarmsConfig(),
                    )
                )
                await scenario(Plant(bus, clock, engine, audit, health, seen))
        await bus.close()

    asyncio.run(main())
    with AlarmJournal(tmp_path / "alarms.sqlite") as journal:
        return journal.rows()


async def annunciated(plant: Plant) -> None:
    plant.publish(level=90.0, flow=50.0)
    await plant.clock.run_for(0.1)
    assert plant.state(LEVEL) == "unacknowledged"


def test_acknowledge_on_a_full_journal_leaves_the_alarm_as_it_was_and_says_why(
    tmp_path: Path,
) -> None:
    async def scenario(plant: Plant) -> None:
        await annunciated(plant)
        fill(plant.journal, JOURNAL)
        with pytest.raises(RemoteError) as failed:
            await plant.bus.call("alarms", "acknowledge", [LEVEL], user="olga")
        assert failed.value.remote_type == "JournalUnavailable"
        assert failed.value.remote_message == (
            "alarm journal unavailable: database or disk is full"
        )
        # Unchanged: state, snapshot, no alarm/ message, no audit row of an ack.
        assert plant.state(LEVEL) == "unacknowledged"
        [status] = [s for s in await plant.bus.call("alarms", "snapshot") if s["tag"] == LEVEL]
        assert status["state"] == "unacknowledged" and status["acked_at"] is None
        assert ("acknowledge", "olga") not in plant.events(LEVEL)
        assert [(e.action, e.outcome) for e in plant.audit.query(user="olga")] == [
            ("acknowledge", "failed")
        ]
        # The journal's failure is a system alarm (fed on the loop's next turn).
        await plant.clock.run_for(0.1)
        assert plant.state("system/journal/storage") == "unacknowledged"
        journal_alarm = plant.engine.alarms["system/journal/storage"].status
        assert journal_alarm.value == "database or disk is full" and journal_alarm.priority == 1

        free(plant.journal, JOURNAL)
        [ok] = await plant.bus.call("alarms", "acknowledge", [LEVEL], user="olga")
        assert ok["ok"] and plant.state(LEVEL) == "acknowledged"
        await plant.clock.run_for(0.1)
        assert plant.engine.alarms["system/journal/storage"].status.value == "ok"

    rows = run(tmp_path, scenario)
    level = [(r["event"], r["actor"]) for r in rows if r["tag"] == LEVEL]
    assert level == [("activate", ""), ("acknowledge", "olga")]  # one ack: the one made


@pytest.mark.parametrize(
    ("request_", "args", "state"),
    [
        ("acknowledge", ([LEVEL],), "unacknowledged"),
        ("shelve", (LEVEL, "sensor drift", 600.0), "unacknowledged"),
        ("remove_from_service", (LEVEL, "maintenance"), "unacknowledged"),
    ],
)
def test_a_request_whose_audit_row_cannot_be_stored_is_refused(
    tmp_path: Path, request_: str, args: tuple[Any, ...], state: str
) -> None:
    async def scenario(plant: Plant) -> None:
        await annunciated(plant)
        fill(plant.audit._db, AUDIT)
        with pytest.raises(RemoteError) as failed:
            await plant.bus.call("alarms", request_, *args, user="olga")
        assert failed.value.remote_type == "AuditUnavailable"
        assert failed.value.remote_message == "audit unavailable: database or disk is full"
        assert plant.state(LEVEL) == state
        assert not plant.engine.alarms[LEVEL].status.shelved
        assert not plant.engine.alarms[LEVEL].status.out_of_service
        assert [e for e, _ in plant.events(LEVEL)] == ["activate"]
        await plant.clock.run_for(0.1)
        assert plant.state("system/audit/storage") == "unacknowledged"
        assert plant.engine.alarms["system/audit/storage"].status.priority == 1

        free(plant.audit._db, AUDIT)
        await plant.bus.call("alarms", request_, *args, user="olga")
        assert [e for e, _ in plant.events(LEVEL)][-1] != "activate"  # made now
        audit = [(e.action, e.outcome) for e in plant.audit.query(user="olga")]
        assert audit[0] == (request_, "failed")  # waited, then written
        assert audit[-1][1] == "ok"

    rows = run(tmp_path, scenario)
    level = [r["event"] for r in rows if r["tag"] == LEVEL]
    assert level[0] == "activate" and len(level) == 2  # the request made once


def test_process_alarms_annunciate_on_a_full_journal_and_are_journalled_later(
    tmp_path: Path,
) -> None:
    async def scenario(plant: Plant) -> None:
        plant.publish(level=50.0, flow=50.0)
        await plant.clock.run_for(0.1)
        fill(plant.journal, JOURNAL)
        plant.publish(flow=5.0)  # the flow drops: this cannot be refused
        await plant.clock.run_for(0.1)
        assert plant.events(FLOW) == [("activate", "")]
        assert plant.state(FLOW) == "unacknowledged"
        assert plant.engine._journal is not None and plant.engine._journal.backlog == 2
        free(plant.journal, JOURNAL)
        await plant.clock.run_for(JOURNAL_RETRY)
        assert plant.engine._journal.backlog == 0

    rows = run(tmp_path, scenario)
    flow = [r["event"] for r in rows if r["tag"] == FLOW]
    assert flow == ["activate"]
    journal = [(r["tag"], r["value"]) for r in rows if r["tag"] == "system/journal/storage"]
    assert journal == [
        ("system/journal/storage", "database or disk is full"),
        ("system/journal/storage", "ok"),
    ]


def test_every_store_and_the_disk_has_its_system_alarm(tmp_path: Path) -> None:
    async def scenario(plant: Plant) -> None:
        # (the journal's own alarm: the test above; here the journal works, and says so)
        for item in items.ITEMS:
            if item != items.JOURNAL:
                plant.health.report(item, f"{item} trouble")
        await plant.clock.run_for(0.1)
        keys = {
            "system/audit/storage": 1,
            "system/history/storage": 2,
            "system/history/loss": 2,
            "system/sessions/storage": 2,
            "system/data/disk": 3,
        }
        for key, priority in keys.items():
            status = plant.engine.alarms[key].status
            assert (status.state.value, status.priority) == ("unacknowledged", priority), key
            assert status.value.endswith("trouble")
        plant.health.report(items.DISK, None)
        await plant.clock.run_for(0.1)
        assert plant.state("system/data/disk") == "returned_unacknowledged"
        # Tag batches never feed them.
        plant.bus.publish(
            "tag/x", encode_samples({"system/data/disk": Sample(True, Quality.good(), T0, T0)})
        )
        await plant.clock.run_for(0.1)
        assert plant.state("system/data/disk") == "returned_unacknowledged"

    run(tmp_path, scenario)
