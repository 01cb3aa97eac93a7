"""The alarm engine on a local bus: samples in, transitions journalled and published,
requests with identity over RPC, delays and shelve expiry on the bus clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hmi.bus import Bus, RemoteError, Supervisor, VirtualClock, encode_samples
from hmi.bus.wire.topics import ALARM_SEQ
from hmi.core.identity import Identity, InvalidToken
from hmi.core.permissions import parse_grants
from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample
from hmi.core.tag import AlarmLimits, Tag
from hmi.services.alarm_engine import MARK_AFTER, AlarmEngine
from hmi.services.alarm_journal import AlarmJournal
from hmi.services.audit import AuditLog

T0 = 1_700_000_000.0
TAGS = {
    "plant/tank/level": Tag(
        "plant/tank/level", alarms=AlarmLimits(hi=80.0, hihi=95.0, on_delay=5.0, priority=2)
    ),
    "plant/pump/flow": Tag(
        "plant/pump/flow",
        alarms=AlarmLimits(lo=10.0, message="Low flow", suppress_when="not {plant/pump/running}"),
    ),
    "plant/pump/running": Tag("plant/pump/running"),
}


def publish(bus: Bus, **values: Any) -> None:
    batch = {
        name.replace("__", "/"): Sample(v, Quality.good(), bus.clock.time())
        for name, v in values.items()
    }
    bus.publish("tag/plc", encode_samples(batch))


Scenario = Callable[[Bus, VirtualClock, list[dict[str, Any]]], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario, **options: Any) -> list[dict[str, Any]]:
    """Run ``scenario`` with an engine on a virtual clock; returns what alarm/# carried."""

    async def main() -> None:
        clock = VirtualClock(start=T0)
        bus = Bus.local(clock)
        seen: list[dict[str, Any]] = []
        # Transitions only: the engine's count on alarm/$seq has its own test.
        bus.subscribe(
            "alarm/#", lambda topic, payload: None if topic == ALARM_SEQ else seen.append(payload)
        )
        async with Supervisor(bus) as sup:
            await sup.start(AlarmEngine(TAGS, tmp_path / "alarms.sqlite", **options))
            await scenario(bus, clock, seen)
        await bus.close()

    asyncio.run(main())
    with AlarmJournal(tmp_path / "alarms.sqlite") as journal:
        return journal.rows()


def test_on_delay_ack_and_clear_reach_journal_and_bus(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__tank__level=85.0, plant__pump__running=True, plant__pump__flow=50.0)
        assert seen == []  # on-delay: nothing yet
        await clock.run_for(5.0)  # the engine's timer fires on the bus clock
        assert [(p["tag"], p["event"], p["state"]) for p in seen] == [
            ("plant/tank/level", "activate", "unacknowledged")
        ]
        assert seen[0]["level"] == "HI" and seen[0]["priority"] == 2
        [result] = await bus.call("alarms", "acknowledge", ["plant/tank/level"], user="alice")
        assert result == {"tag": "plant/tank/level", "ok": True, "error": ""}
        assert seen[-1]["state"] == "acknowledged" and seen[-1]["actor"] == "alice"
        publish(bus, plant__tank__level=50.0)
        assert seen[-1]["event"] == "clear" and seen[-1]["state"] == "normal"
        [status] = [s for s in await bus.call("alarms", "snapshot") if s["tag"].endswith("level")]
        assert status["state"] == "normal"
        kpis = await bus.call("alarms", "kpis")
        assert kpis["alarms_last_10min"] == 1

    rows = run(tmp_path, scenario)
    assert [r["event"] for r in rows] == ["activate", "acknowledge", "clear"]


def test_suppression_by_design_while_the_pump_is_stopped(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=50.0)
        # The pump stops and the flow drops in the same scan: no flow alarm.
        publish(bus, plant__pump__running=False, plant__pump__flow=0.0)
        flow = [p for p in seen if p["tag"] == "plant/pump/flow"]
        assert [(p["event"], p["state"]) for p in flow] == [
            ("suppress", "suppressed"),
            ("activate", "suppressed"),
        ]
        # The pump runs again with no flow: now it is a real alarm.
        publish(bus, plant__pump__running=True)
        assert (seen[-1]["event"], seen[-1]["state"]) == ("unsuppress", "unacknowledged")
        # The suppression input goes BAD: fail towards showing alarms.
        bus.publish(
            "tag/plc",
            encode_samples(
                {"plant/pump/running": Sample(False, Quality.bad(Reason.NO_COMMUNICATION))}
            ),
        )
        assert seen[-1]["state"] == "unacknowledged"

    run(tmp_path, scenario)


def test_shelve_over_rpc_expires_on_the_bus_clock(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0)
        status = await bus.call(
            "alarms", "shelve", "plant/pump/flow", "flow meter fouled", 600.0, user="bob"
        )
        assert status["state"] == "shelved" and status["shelved_until"] == T0 + 600.0
        with pytest.raises(RemoteError, match="duration"):
            await bus.call("alarms", "shelve", "plant/pump/flow", "x", 1e9, user="bob")
        with pytest.raises(RemoteError, match="needs a user"):
            await bus.call("alarms", "unshelve", "plant/pump/flow")
        await clock.run_for(600.0)
        assert (seen[-1]["event"], seen[-1]["state"]) == ("shelve_expired", "unacknowledged")
        bad = await bus.call("alarms", "acknowledge", ["plant/pump/flow", "no/such/tag"], user="b")
        assert [r["ok"] for r in bad] == [True, False]

    rows = run(tmp_path, scenario)
    assert [r["event"] for r in rows] == [
        "activate",
        "shelve",
        "shelve_expired",
        "acknowledge",
    ]
    assert rows[1]["actor"] == "bob" and rows[1]["comment"] == "flow meter fouled"


IDENTITIES = {
    "op-token": Identity("olga", frozenset({"operator"}), node="hmi-1"),
    "viewer-token": Identity("vic", frozenset({"viewer"}), node="hmi-2"),
    "lead-token": Identity("lena", frozenset({"shiftlead"})),
}


def authorize(token: str) -> Identity:
    """A stand-in for the security service's ``verify``."""
    if token not in IDENTITIES:
        raise InvalidToken("bad signature")
    return IDENTITIES[token]


def test_tokens_and_roles_when_an_authorizer_is_given(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0)
        with pytest.raises(RemoteError, match="bad signature"):
            await bus.call("alarms", "acknowledge", "plant/pump/flow", user="olga", token="x")
        with pytest.raises(RemoteError, match="vic may not acknowledge") as refused:
            await bus.call("alarms", "acknowledge", "plant/pump/flow", token="viewer-token")
        assert refused.value.remote_type == "PermissionError"
        with pytest.raises(RemoteError, match="olga may not"):
            await bus.call(
                "alarms", "remove_from_service", "plant/pump/flow", "x", token="op-token"
            )
        # The claimed user name is ignored: the token says who it is.
        await bus.call("alarms", "acknowledge", "plant/pump/flow", user="admin", token="op-token")
        assert seen[-1]["actor"] == "olga"

    run(tmp_path, scenario, authorize=authorize)


def test_a_viewers_acknowledge_and_shelve_are_refused_and_audited(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.sqlite")

    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0)
        viewer = {"token": "viewer-token"}
        with pytest.raises(RemoteError, match="vic may not acknowledge"):
            await bus.call("alarms", "acknowledge", ["plant/pump/flow"], **viewer)
        with pytest.raises(RemoteError, match="vic may not shelve"):
            await bus.call("alarms", "shelve", "plant/pump/flow", "noisy", 60.0, **viewer)
        with pytest.raises(RemoteError, match="bad signature"):
            await bus.call("alarms", "unshelve", "plant/pump/flow", user="mallory", token="x")
        assert [t["event"] for t in seen] == ["activate"]  # nothing changed

    try:
        run(tmp_path, scenario, authorize=authorize, audit=audit)
        rows = audit.query()
        assert [(r.user, r.action, r.target, r.outcome, r.node) for r in rows] == [
            ("vic", "acknowledge", "plant/pump/flow", "denied", "hmi-2"),
            ("vic", "shelve", "plant/pump/flow", "denied", "hmi-2"),
            ("mallory (unverified: bad signature)", "unshelve", "plant/pump/flow", "denied", ""),
        ]
        assert "permission acknowledge" in rows[0].reason
    finally:
        audit.close()


def test_the_projects_grants_decide_who_may_ask_what(tmp_path: Path) -> None:
    grants, problems = parse_grants(
        {"shiftlead": ["acknowledge", "service"], "operator": ["write"]},
        ["viewer", "operator", "engineer", "admin", "shiftlead"],
    )
    assert problems == []

    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0)
        limits = await bus.call("alarms", "limits")
        assert limits["checks_roles"] is True
        assert limits["roles"]["acknowledge"] == ["admin", "engineer", "shiftlead"]
        assert limits["roles"]["remove_from_service"] == ["admin", "engineer", "shiftlead"]
        assert limits["permissions"]["unshelve"] == "shelve"
        # operators may only write in this plant; a shift lead acknowledges and services
        with pytest.raises(RemoteError, match="olga may not acknowledge"):
            await bus.call("alarms", "acknowledge", "plant/pump/flow", token="op-token")
        await bus.call("alarms", "acknowledge", "plant/pump/flow", token="lead-token")
        await bus.call("alarms", "remove_from_service", "plant/pump/flow", "x", token="lead-token")
        with pytest.raises(RemoteError, match="lena may not shelve"):
            await bus.call("alarms", "shelve", "plant/tank/level", "x", 60.0, token="lead-token")
        assert [t["actor"] for t in seen[1:]] == ["lena", "lena"]

    run(tmp_path, scenario, authorize=authorize, grants=grants)


def test_shelving_and_out_of_service_survive_a_restart(tmp_path: Path) -> None:
    async def first(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        await bus.call("alarms", "shelve", "plant/pump/flow", "fouled", 3600.0, user="bob")
        await bus.call("alarms", "remove_from_service", "plant/tank/level", "cal", user="eng")

    async def second(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        states = {s["tag"]: s["state"] for s in await bus.call("alarms", "snapshot")}
        assert states == {"plant/tank/level": "out_of_service", "plant/pump/flow": "shelved"}

    run(tmp_path, first)
    run(tmp_path, second)


def test_an_acknowledgement_survives_a_restart_for_the_same_condition(tmp_path: Path) -> None:
    async def first(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0, plant__tank__level=85.0)
        await clock.run_for(5.0)  # the level's on-delay
        await bus.call("alarms", "acknowledge", ["plant/pump/flow", "plant/tank/level"], user="al")

    async def second(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        # Same LO flow: acknowledged again in al's name, journalled; it does not re-annunciate.
        # The level is now HIHI, a worse condition: it annunciates as new.
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0, plant__tank__level=97.0)
        await clock.run_for(5.0)
        flow = [(p["event"], p["state"], p["actor"]) for p in seen if p["tag"].endswith("flow")]
        assert flow == [
            ("activate", "unacknowledged", ""),
            ("acknowledge", "acknowledged", "al"),
        ]
        states = {s["tag"]: (s["state"], s["level"]) for s in await bus.call("alarms", "snapshot")}
        assert states["plant/pump/flow"] == ("acknowledged", "LO")
        assert states["plant/tank/level"] == ("unacknowledged", "HIHI")

    run(tmp_path, first)
    rows = run(tmp_path, second)
    reacked = [r for r in rows if r["comment"] == "acknowledged before restart"]
    assert [(r["tag"], r["event"], r["user"]) for r in reacked] == [
        ("plant/pump/flow", "acknowledge", "al")
    ]


def test_an_alarm_standing_at_a_restart_stays_standing_while_its_input_is_bad(
    tmp_path: Path,
) -> None:
    """docs/alarms.md, "BAD quality inputs": HOLD keeps the condition as it was. Restarted
    while its PLC was down, every standing alarm came back ``normal`` with ``input_bad``
    (the journal's condition was not held), so it vanished from the list."""
    bad = Quality.bad(Reason.NO_COMMUNICATION)

    async def first(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0, plant__tank__level=97.0)
        await clock.run_for(5.0)  # the level's on-delay
        await bus.call("alarms", "acknowledge", ["plant/tank/level"], user="al")

    async def second(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        # The PLC is down at the restart: the first values are BAD, held as they were.
        stale = {
            "plant/pump/running": Sample(True, bad, T0),
            "plant/pump/flow": Sample(5.0, bad, T0),
            "plant/tank/level": Sample(97.0, bad, T0),
        }
        bus.publish("tag/plc", encode_samples(stale))
        states = {s["tag"]: s for s in await bus.call("alarms", "snapshot")}
        level, flow = states["plant/tank/level"], states["plant/pump/flow"]
        assert (level["state"], level["level"], level["input_bad"]) == (
            "acknowledged",  # and still acknowledged by al, as before the restart
            "HIHI",
            True,
        )
        assert level["activated_at"] == T0 + 5.0  # its time, not the restart's
        assert (flow["state"], flow["level"], flow["input_bad"]) == ("unacknowledged", "LO", True)
        # The PLC back with the level normal: the alarm returns, as it would have.
        publish(bus, plant__pump__running=True, plant__pump__flow=50.0, plant__tank__level=50.0)
        await clock.run_for(1.0)
        states = {s["tag"]: s for s in await bus.call("alarms", "snapshot")}
        assert states["plant/tank/level"]["state"] == "normal"
        assert states["plant/pump/flow"]["state"] == "returned_unacknowledged"

    run(tmp_path, first)
    run(tmp_path, second)


def test_bad_quality_holds_the_alarm_and_is_published(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0)
        bus.publish(
            "tag/plc",
            encode_samples({"plant/pump/flow": Sample(50.0, Quality.bad(Reason.NO_COMMUNICATION))}),
        )
        assert (seen[-1]["event"], seen[-1]["input_bad"], seen[-1]["state"]) == (
            "quality",
            True,
            "unacknowledged",
        )

    run(tmp_path, scenario)


def test_frequent_samples_do_not_grow_the_timer_heap(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0)
        await bus.call("alarms", "shelve", "plant/pump/flow", "fouled", 3600.0, user="bob")
        for _ in range(500):
            publish(bus, plant__pump__flow=5.0)
        [engine] = [a for a in sup_actors if isinstance(a, AlarmEngine)]
        assert len(engine._deadlines) <= 2

    sup_actors: list[Any] = []
    original = Supervisor.start

    async def start(self: Supervisor, actor: Any) -> Any:
        sup_actors.append(actor)
        return await original(self, actor)

    mp = pytest.MonkeyPatch()
    mp.setattr(Supervisor, "start", start)
    try:
        run(tmp_path, scenario)
    finally:
        mp.undo()


def test_limits_say_what_the_engine_accepts_and_who_may_ask(tmp_path: Path) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        limits = await bus.call("alarms", "limits")
        assert limits["max_shelve"] == 1800.0
        assert limits["checks_roles"] is False  # no authorizer: any named user may
        assert limits["roles"]["remove_from_service"] == ["admin", "engineer"]
        assert "operator" in limits["roles"]["shelve"]
        assert limits["kpi"]["chatter_count"] == 3

    run(tmp_path, scenario, max_shelve=1800.0)


def test_transitions_and_snapshots_carry_one_sequence_over_all_alarm_topics(
    tmp_path: Path,
) -> None:
    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0)
        await bus.call("alarms", "acknowledge", ["plant/pump/flow"], user="olga")
        publish(bus, plant__tank__level=99.0)
        await clock.run_for(5.0)
        assert [p["seq"] for p in seen] == [1, 2, 3]  # two tags, one sequence
        assert len({p["epoch"] for p in seen}) == 1
        snapshot = await bus.call("alarms", "snapshot")
        assert {(s["epoch"], s["seq"]) for s in snapshot} == {(seen[0]["epoch"], 3)}

    run(tmp_path, scenario)


def test_the_count_of_transitions_follows_the_last_one(tmp_path: Path) -> None:
    """MARK_AFTER seconds after the last transition, alarm/$seq says how many there were,
    so a client that lost the last one before a quiet spell notices."""

    async def scenario(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        counts: list[dict[str, Any]] = []
        bus.subscribe(ALARM_SEQ, lambda topic, payload: counts.append(payload))
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0)
        await bus.call("alarms", "acknowledge", ["plant/pump/flow"], user="al")
        await clock.run_for(MARK_AFTER / 2)
        assert counts == []  # not while transitions may still follow
        await clock.run_for(MARK_AFTER)
        assert counts == [{"epoch": seen[-1]["epoch"], "seq": seen[-1]["seq"]}]
        await clock.run_for(10 * MARK_AFTER)
        assert len(counts) == 1  # once per quiet spell, not a heartbeat

    run(tmp_path, scenario)


def test_activation_ack_and_shelve_times_survive_a_restart(tmp_path: Path) -> None:
    """The journal keeps each alarm's times; a restarted engine shows the operator's,
    not the restart's (issue 14: "alarm times change")."""
    times: dict[str, dict[str, Any]] = {}

    async def first(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0, plant__tank__level=85.0)
        await clock.run_for(5.0)  # the level's on-delay
        await clock.run_for(10.0)
        await bus.call("alarms", "acknowledge", ["plant/tank/level"], user="al")
        await clock.run_for(10.0)
        await bus.call("alarms", "shelve", "plant/pump/flow", "fouled", 3600.0, user="bob")
        times.update({s["tag"]: s for s in await bus.call("alarms", "snapshot")})

    async def second(bus: Bus, clock: VirtualClock, seen: list[dict[str, Any]]) -> None:
        await clock.run_for(60.0)  # the engine was down a minute; then the same values
        publish(bus, plant__pump__running=True, plant__pump__flow=5.0, plant__tank__level=85.0)
        await clock.run_for(5.0)
        after = {s["tag"]: s for s in await bus.call("alarms", "snapshot")}
        level, flow = after["plant/tank/level"], after["plant/pump/flow"]
        assert level["state"] == "acknowledged"
        assert level["activated_at"] == times["plant/tank/level"]["activated_at"] == T0 + 5.0
        assert level["acked_at"] == times["plant/tank/level"]["acked_at"] == T0 + 15.0
        assert flow["state"] == "shelved"
        assert flow["shelved_at"] == times["plant/pump/flow"]["shelved_at"] == T0 + 25.0
        assert flow["activated_at"] == times["plant/pump/flow"]["activated_at"] == T0

    run(tmp_path, first)
    run(tmp_path, second)
