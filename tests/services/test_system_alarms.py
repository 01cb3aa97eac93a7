"""System alarms: a device that stops answering and a node declared dead raise alarms of the
engine like any tag's (acknowledge, snapshot, journal, restart), from ``$sys/`` topics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hmi.bus import Bus, MalformedPayload, Supervisor, VirtualClock, encode_samples
from hmi.bus.wire.topics import ALARM_SEQ
from hmi.core.quality import Quality
from hmi.core.sample import Sample
from hmi.core.tag import AlarmLimits, Tag
from hmi.project.loader import parse_project
from hmi.project.model import SystemAlarmsConfig
from hmi.services.alarm_engine import AlarmEngine
from hmi.services.alarm_journal import AlarmJournal
from hmi.services.system_alarms import (
    DEVICE_OK,
    SystemAlarms,
    device_key,
    device_keys,
    device_sample,
    node_event,
    sanitize,
)

T0 = 1_700_000_000.0
COMM = "system/plc1/comm"
NODE = "system/drivers-east/node"
CONFIG = SystemAlarmsConfig(device_priority=3, node_priority=1)
TAGS = {"plant/tank/level": Tag("plant/tank/level", alarms=AlarmLimits(hi=80.0))}


def status(device: str = "plc1", connected: bool = True, error: str = "", **more: Any) -> dict:
    """A ``$sys/device/<name>`` payload as DeviceStatus.to_dict() makes it."""
    return {"device": device, "connected": connected, "last_error": error, **more}


def dead(node_id: str = "drivers-east-1", **fields: Any) -> tuple[str, dict]:
    return f"$sys/node/{node_id}/dead", {"id": node_id, "why": "silent", **fields}


def alive(node_id: str = "drivers-east-2", **fields: Any) -> tuple[str, dict]:
    return f"$sys/node/{node_id}/alive", {"id": node_id, **fields}


Scenario = Callable[[Bus, VirtualClock, list[dict[str, Any]], AlarmEngine], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario, **options: Any) -> list[dict[str, Any]]:
    """Run ``scenario`` with an engine on a virtual clock; returns the journal's rows."""
    options.setdefault("system_alarms", CONFIG)
    options.setdefault("devices", ["plc1", "plc2"])

    async def main() -> None:
        clock = VirtualClock(start=T0)
        bus = Bus.local(clock)
        seen: list[dict[str, Any]] = []
        bus.subscribe(
            "alarm/#", lambda topic, payload: None if topic == ALARM_SEQ else seen.append(payload)
        )
        async with Supervisor(bus) as sup:
            engine = await sup.start(AlarmEngine(TAGS, tmp_path / "alarms.sqlite", **options))
            await scenario(bus, clock, seen, engine)
        await bus.close()

    asyncio.run(main())
    with AlarmJournal(tmp_path / "alarms.sqlite") as journal:
        return journal.rows()


async def snapshot(bus: Bus) -> dict[str, dict[str, Any]]:
    return {s["tag"]: s for s in await bus.call("alarms", "snapshot")}


# -- pure helpers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "failed", "shown"),
    [
        (status(connected=True), False, DEVICE_OK),
        (status(connected=True, error="timeout"), False, DEVICE_OK),  # an old error, answered
        (status(connected=False, error="connection refused"), True, "connection refused"),
        (status(connected=True, error="timeout", communicating=False), True, "timeout"),
        (status(connected=True, communicating=None), False, DEVICE_OK),
    ],
)
def test_a_device_status_becomes_a_sample_true_while_failed(
    payload: dict, failed: bool, shown: str
) -> None:
    judged = device_sample(payload, T0)
    assert judged is not None
    device, sample, text = judged
    assert (device, sample.value, text) == ("plc1", failed, shown)
    assert sample.quality == Quality.good()  # the status itself is a trustworthy report


def test_a_status_without_an_error_before_the_first_answer_tells_nothing() -> None:
    """Right after connecting, before the first request: not a failure, not a recovery."""
    assert device_sample(status(connected=True, communicating=False), T0) is None
    assert device_sample(status(connected=False), T0) is None


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [1, 2],
        {"connected": False},
        {"device": "", "connected": False},
        {"device": "plc1"},
        {"device": "plc1", "connected": "no"},
        {"device": "plc1", "connected": True, "communicating": 0},
        {"device": "plc1", "connected": True, "last_error": 42},
    ],
)
def test_a_malformed_device_status_is_refused(payload: Any) -> None:
    with pytest.raises(MalformedPayload):
        device_sample(payload, T0)


def test_device_keys_are_tag_names_that_do_not_depend_on_order() -> None:
    assert sanitize("PLC 1/line#2") == "PLC_1_line_2"
    assert device_key("plc1") == "system/plc1/comm"
    names = ["plc 1", "plc_1", "plc/1", "ok.name-2"]
    keys = device_keys(names)
    assert keys["plc_1"] == "system/plc_1/comm"  # unchanged names keep the plain key
    assert keys["ok.name-2"] == "system/ok.name-2/comm"
    assert len(set(keys.values())) == len(names)
    assert keys["plc 1"].startswith("system/plc_1-") and keys["plc 1"].endswith("/comm")
    assert device_keys(reversed(names)) == keys


def test_node_events_are_read_from_topic_and_payload() -> None:
    event = node_event(*dead(name="drivers-east", host="pc7", targets=["drivers-east"]))
    assert event is not None and event.dead
    assert (event.id, event.name, event.host, event.why, event.targets) == (
        "drivers-east-1",
        "drivers-east",
        "pc7",
        "silent",
        ("drivers-east",),
    )
    today = node_event(*dead())  # the broker's payload before names and targets
    assert today is not None and today.targets is None and today.name == ""
    assert node_event("$sys/node/x/other", {}) is None
    for payload in (None, {"id": "x", "targets": "drivers"}, {"id": "x", "name": 3}):
        with pytest.raises(MalformedPayload):
            node_event("$sys/node/x/dead", payload)


def test_disabled_system_alarms_have_nothing_to_do() -> None:
    system = SystemAlarms(SystemAlarmsConfig(enabled=False), ["plc1"])
    assert system.device_alarms() == {} and system.patterns == ()
    assert system.read("$sys/device/plc1", status(connected=False, error="timeout"), T0) == []
    assert SystemAlarms(None, ["plc1"]).device_alarms() == {}


# -- devices, in the engine -------------------------------------------------------------------
def test_a_device_that_stops_answering_raises_its_comm_alarm_until_acked(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish("$sys/device/plc1", status(connected=True))
        assert seen == []
        bus.publish("$sys/device/plc1", status(connected=False, error="connection refused"))
        [raised] = seen
        assert (raised["tag"], raised["event"], raised["state"]) == (
            COMM,
            "activate",
            "unacknowledged",
        )
        assert raised["priority"] == 3  # device_priority from the configuration
        assert raised["message"] == "plc1: no communication"
        assert raised["value"] == "connection refused"  # why, in the summary's value column
        assert raised["level"] == "STATE"
        states = await snapshot(bus)
        assert states[COMM]["state"] == "unacknowledged"
        assert states["system/plc2/comm"]["state"] == "normal"

        bus.publish("$sys/device/plc1", status(connected=True, error="connection refused"))
        assert (seen[-1]["event"], seen[-1]["state"], seen[-1]["value"]) == (
            "clear",
            "returned_unacknowledged",
            DEVICE_OK,
        )
        [result] = await bus.call("alarms", "acknowledge", [COMM], user="olga")
        assert result["ok"], result
        assert (seen[-1]["state"], seen[-1]["actor"]) == ("normal", "olga")

    rows = run(tmp_path, scenario)
    assert [(r["tag"], r["event"]) for r in rows] == [
        (COMM, "activate"),
        (COMM, "clear"),
        (COMM, "acknowledge"),
    ]


def test_connected_but_not_communicating_is_a_failure_too(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish("$sys/device/plc1", status(connected=True, error="", communicating=True))
        late = status(connected=True, error="no response", communicating=False)
        bus.publish("$sys/device/plc1", late)
        assert [(p["tag"], p["state"], p["value"]) for p in seen] == [
            (COMM, "unacknowledged", "no response")
        ]
        await bus.call("alarms", "acknowledge", COMM, user="olga")
        bus.publish("$sys/device/plc1", late | {"last_error": "timeout"})
        # Still failing: no new transition, but the status shows the latest error.
        assert seen[-1]["state"] == "acknowledged"
        assert (await snapshot(bus))[COMM]["value"] == "timeout"
        bus.publish("$sys/device/plc1", status(connected=True, communicating=True))
        assert (seen[-1]["event"], seen[-1]["state"]) == ("clear", "normal")

    run(tmp_path, scenario)


def test_the_on_delay_of_the_configuration_applies(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish("$sys/device/plc1", status(connected=False, error="timeout"))
        await clock.run_for(4.0)
        bus.publish("$sys/device/plc1", status(connected=True))  # a blip: no alarm
        await clock.run_for(10.0)
        assert seen == []
        bus.publish("$sys/device/plc1", status(connected=False, error="timeout"))
        await clock.run_for(5.0)  # the engine's timer confirms it on the bus clock
        assert [(p["tag"], p["event"]) for p in seen] == [(COMM, "activate")]

    run(tmp_path, scenario, system_alarms=SystemAlarmsConfig(on_delay=5.0))


def test_disabled_in_the_project_no_system_alarm_exists(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish("$sys/device/plc1", status(connected=False, error="timeout"))
        bus.publish(*dead(name="drivers-east", targets=["drivers-east"]))
        assert seen == []
        assert set(await snapshot(bus)) == {"plant/tank/level"}
        assert engine.malformed == 0

    run(tmp_path, scenario, system_alarms=SystemAlarmsConfig(enabled=False))


def test_for_project_builds_the_alarms_of_enabled_devices_from_system_alarms(
    tmp_path: Path,
) -> None:
    text = """\
name: system alarms
system_alarms: {device_priority: 1, on_delay: 0}
devices:
  - {name: plc1, port: 5020}
  - {name: "PLC #2", port: 5021}
  - {name: spare, port: 5022, enabled: false}
tags: []
"""
    project = parse_project(text, tmp_path / "p.yaml")
    engine = AlarmEngine.for_project(project)
    assert set(engine.alarms) == {COMM, "system/PLC__2/comm"}
    limits = engine.alarms["system/PLC__2/comm"].limits
    assert (limits.priority, limits.message, limits.state) == (1, "PLC #2: no communication", True)
    off = parse_project(text.replace("device_priority: 1", "enabled: false"), tmp_path / "q.yaml")
    assert AlarmEngine.for_project(off).alarms == {}


def test_samples_on_tag_topics_never_feed_a_system_alarm(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish("tag/x", encode_samples({COMM: Sample(True, Quality.good(), T0)}))
        assert seen == []

    run(tmp_path, scenario)


def test_a_tag_named_like_a_system_alarm_keeps_its_own_alarm(tmp_path: Path) -> None:
    tags = {COMM: Tag(COMM, alarms=AlarmLimits(hi=1.0, message="the tag's own"))}
    engine = AlarmEngine(tags, tmp_path / "a.sqlite", system_alarms=CONFIG, devices=["plc1"])
    assert engine.alarms[COMM].limits.message == "the tag's own"
    assert COMM not in engine.system.keys


def test_malformed_system_payloads_are_counted_and_dropped(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish("$sys/device/plc1", "down")
        bus.publish("$sys/device/plc1", {"device": "plc1", "connected": "no"})
        bus.publish("$sys/node/n1/dead", ["n1"])
        bus.publish("$sys/node/n1/dead", {"id": "n1", "targets": "drivers"})
        bus.publish("$sys/stats", {"nodes": 3})
        assert engine.malformed == 5
        assert seen == []
        # Unknown devices and other $sys/node topics are not malformed, only not ours.
        bus.publish("$sys/device/other", status("other", connected=False))
        bus.publish("$sys/node/n1/whatever", {"id": "n1"})
        assert engine.malformed == 5 and seen == []
        bus.publish(
            "$sys/device/plc1", status(connected=False, error="timeout")
        )  # the engine goes on
        assert seen[-1]["tag"] == COMM

    run(tmp_path, scenario)


def test_a_comm_alarm_acknowledged_before_a_restart_stays_acknowledged(tmp_path: Path) -> None:
    async def first(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish("$sys/device/plc1", status(connected=False, error="timeout"))
        await bus.call("alarms", "acknowledge", [COMM], user="al")

    async def second(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish("$sys/device/plc1", status(connected=False, error="timeout"))
        assert [(p["event"], p["state"], p["actor"]) for p in seen] == [
            ("activate", "unacknowledged", ""),
            ("acknowledge", "acknowledged", "al"),
        ]

    run(tmp_path, first)
    run(tmp_path, second)


# -- nodes --------------------------------------------------------------------------------------
def test_a_dead_node_that_served_targets_raises_until_it_is_alive_again(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish(*dead(name="drivers-east", host="pc7", targets=["drivers-east"]))
        [raised] = seen
        assert (raised["tag"], raised["state"], raised["priority"]) == (NODE, "unacknowledged", 1)
        assert raised["message"] == "node drivers-east on pc7 declared dead by the broker"
        assert raised["value"] == "silent"
        assert (await snapshot(bus))[NODE]["state"] == "unacknowledged"
        await bus.call("alarms", "acknowledge", [NODE], user="olga")
        assert seen[-1]["state"] == "acknowledged"

        bus.publish(*alive("drivers-east-2", name="other"))  # another node: still dead
        assert seen[-1]["state"] == "acknowledged"
        bus.publish(*alive("drivers-east-2", name="drivers-east"))
        assert (seen[-1]["event"], seen[-1]["state"], seen[-1]["value"]) == (
            "clear",
            "normal",
            "alive",
        )
        assert NODE in await snapshot(bus)  # once made, it stays (normal)

    run(tmp_path, scenario)


def test_stations_and_the_engines_own_node_raise_no_node_alarm(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish(*dead("hmi-pc3-1", name="hmi-pc3", targets=[]))  # an operator station
        bus.publish(*dead("hmi-pc4-1", name="hmi-pc4"))  # today's payload: targets unknown
        bus.publish(*dead("backend-1", name="backend", targets=["alarms", "security"]))
        assert seen == []
        assert not any(tag.endswith("/node") for tag in await snapshot(bus))

    run(tmp_path, scenario)


def test_a_node_known_from_its_alive_event_is_named_in_its_death(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish(*alive("d-1", name="drivers-east", host="pc7", targets=["drivers-east"]))
        bus.publish(*dead("d-1"))  # the broker's dead payload carries only id and why
        assert [(p["tag"], p["message"]) for p in seen] == [
            (NODE, "node drivers-east on pc7 declared dead by the broker")
        ]
        bus.publish(*dead("anon-1", targets=["x"]))  # never said its name: its id
        assert seen[-1]["tag"] == "system/anon-1/node"

    run(tmp_path, scenario)


def test_a_dead_node_stays_alarmed_across_a_restart_until_stats_list_it_alive(
    tmp_path: Path,
) -> None:
    async def first(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        bus.publish(*dead(name="drivers-east", host="pc7", targets=["drivers-east"]))
        await bus.call("alarms", "acknowledge", [NODE], user="al")

    async def second(bus: Bus, clock: VirtualClock, seen: list[dict], engine: Any) -> None:
        # The broker does not repeat a death: the journal's standing alarm is made again,
        # active, and acknowledged again in al's name.
        state = (await snapshot(bus))[NODE]
        assert (state["state"], state["level"], state["value"]) == (
            "acknowledged",
            "STATE",
            "silent",
        )
        assert state["message"] == "node drivers-east on pc7 declared dead by the broker"
        stats = {"nodes": [{"id": "d-1", "name": "drivers-east", "alive": False}]}
        bus.publish("$sys/stats", stats)
        assert (await snapshot(bus))[NODE]["state"] == "acknowledged"  # still dead
        stats["nodes"].append({"id": "d-2", "name": "drivers-east", "alive": True})
        bus.publish("$sys/stats", stats)
        assert (seen[-1]["event"], seen[-1]["state"]) == ("clear", "normal")

    run(tmp_path, first)
    rows = run(tmp_path, second)
    assert [(r["event"], r["comment"]) for r in rows if r["tag"] == NODE][-3:] == [
        ("activate", ""),
        ("acknowledge", "acknowledged before restart"),
        ("clear", ""),
    ]
