"""A command is carried out once, while it is recent, and only from its session's node.

Any node subscribed to ``cmd/`` sees every command with its token: these tests publish
copies, old commands and other nodes' sessions as such a node could, and check both the
result (every command gets one, audited through the usual cmd/result pairing) and the
register on the device.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

import pytest

from hmi.bus import Bus, RemoteError
from hmi.bus.wire.messages import decode_result, encode_command
from hmi.core.command import CommandState
from hmi.drivers.replay import ReplayGuard
from hmi.services.audit import AuditLog
from hmi.services.security import Security
from hmi.services.security_actor import AuditRecorder
from tests.drivers.helpers import KEY, local_verifier, session
from tests.drivers.test_actor_auth import INITIAL, TAG, operator, running


def test_the_guard_admits_an_id_once_and_only_with_a_recent_time() -> None:
    guard = ReplayGuard(max_age=30.0, capacity=3)
    assert guard.admit("a", 1000.0, 1000.0) is None
    assert "received before: replayed" in (guard.admit("a", 1000.0, 1001.0) or "")
    assert "31 s behind" in (guard.admit("b", 969.0, 1000.0) or "")
    assert "31 s ahead of" in (guard.admit("b", 1031.0, 1000.0) or "")
    assert "not a number" in (guard.admit("b", math.nan, 1000.0) or "")
    assert "stale" in (guard.admit("b", 0.0, 1000.0) or "")  # a command without a time
    assert guard.admit("", 1000.0, 1000.0) == "command carries no id"
    # a released id (its token was invalid) may come again; the others fill the memory
    guard.release("a")
    assert guard.admit("a", 1000.0, 1000.0) is None
    assert guard.admit("b", 1000.0, 1000.0) is None
    assert guard.admit("c", 1000.0, 1000.0) is None
    assert "too many" in (guard.admit("d", 1000.0, 1000.0) or "")  # refused, not forgotten
    # once a command's time is past the window its id is forgotten: memory stays bounded
    assert guard.admit("d", 1031.0, 1031.0) is None
    assert len(guard) == 1
    assert "stale" in (guard.admit("a", 1000.0, 1031.0) or "")  # and it cannot pass anyway


def test_a_replayed_command_is_refused_and_audited(tmp_path: Path) -> None:
    async def main() -> None:
        bus = Bus.local()
        audit = AuditLog(tmp_path / "audit.sqlite")
        recorder = AuditRecorder(audit, Security({}, KEY, None, clock=time.time))
        try:
            async with running(tmp_path, local_verifier(), bus, recorder) as plant:
                first = operator("once", 42)
                assert (await plant.result(plant.send(first))).state is CommandState.CONFIRMED
                plant.context.setValues(3, 10, [INITIAL])  # someone puts it back by hand

                del plant.results["once"]
                replayed = await plant.result(plant.send(first))  # the same bytes again
                assert replayed.state is CommandState.REJECTED
                assert replayed.message == "command once was received before: replayed"
                assert plant.register() == INITIAL

                await bus.drain()
                rows = audit.query(action="write")
                assert [(r.user, r.outcome) for r in rows] == [
                    ("olga", "confirmed"),
                    ("olga", "rejected"),
                ]
                assert "replayed" in rows[1].reason
        finally:
            audit.close()

    asyncio.run(main())


def test_copies_delivered_together_are_written_once(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, local_verifier()) as plant:
            states: list[CommandState] = []
            plant.bus.subscribe("result/#", lambda t, p: states.append(decode_result(p).state))
            payload = encode_command(operator("twice", 42))
            plant.bus.publish(f"cmd/{TAG}", payload)
            plant.bus.publish(f"cmd/{TAG}", payload)  # before the first is verified
            async with asyncio.timeout(3):
                while len(plant.order) < 2:
                    plant.arrived.clear()
                    await plant.arrived.wait()
            # both answered on the same id: one written, one refused
            assert plant.order == ["twice", "twice"]
            assert sorted(states) == [CommandState.CONFIRMED, CommandState.REJECTED]
            assert plant.register() == 42

    asyncio.run(main())


@pytest.mark.parametrize(("age", "words"), [(45.0, "45 s behind"), (-45.0, "45 s ahead of")])
def test_a_command_whose_time_is_not_recent_is_refused(
    tmp_path: Path, age: float, words: str
) -> None:
    async def main() -> None:
        async with running(tmp_path, local_verifier()) as plant:
            old = operator("old", 42, time=time.time() - age)
            result = await plant.result(plant.send(old))
            assert result.state is CommandState.REJECTED
            assert words in result.message and "stale or replayed" in result.message
            assert plant.register() == INITIAL

    asyncio.run(main())


def test_the_window_is_configurable_and_on_the_drivers_clock(tmp_path: Path) -> None:
    async def main() -> None:
        now = [5_000.0]
        async with running(
            tmp_path, local_verifier(), max_command_age=5.0, clock=lambda: now[0]
        ) as plant:
            fresh = await plant.result(plant.send(operator("fresh", 41, time=4_996.0)))
            assert fresh.state is CommandState.CONFIRMED, fresh
            late = await plant.result(plant.send(operator("late", 42, time=4_994.0)))
            assert late.state is CommandState.REJECTED
            assert "(at most 5 s either way)" in late.message
            assert plant.register() == 41

    asyncio.run(main())


class Wire:
    """A stand-in for the node transport that delivers messages of other nodes, with the
    sender id the broker verified as ``current_sender`` (None for this node's own)."""

    link_state = "connected"

    def __init__(self) -> None:
        self.current_sender: str | None = None
        self.on_link: list[Any] = []

    def receive(self, bus: Bus, sender: str, topic: str, payload: Any) -> None:
        self.current_sender = sender
        try:
            bus.deliver(topic, payload)
        finally:
            self.current_sender = None

    async def wait_connected(self, timeout: float | None = None) -> bool:
        return True

    def published_tags(self) -> set[str]:
        return set()

    def send(self, topic: str, payload: Any) -> None:
        pass

    def subscribe(self, prefix: str) -> None:
        pass

    def unsubscribe(self, prefix: str) -> None:
        pass

    def expose(self, name: str) -> None:
        pass

    def unexpose(self, name: str) -> None:
        pass

    async def call(self, target: str, method: str, *rest: Any) -> Any:
        raise RemoteError("LookupError", f"no RPC target {target!r}", target, method)

    async def close(self) -> None:
        pass


def test_a_session_is_good_only_from_the_node_it_logged_in_on(tmp_path: Path) -> None:
    async def main() -> None:
        wire = Wire()
        bus = Bus(transport=wire, name="driver-node")
        async with running(tmp_path, local_verifier(), bus) as plant:
            station = session("olga", "operator", node="station-1")
            # from the station it logged in on: written
            mine = operator("mine", 42, token=station)
            wire.receive(bus, "station-1", f"cmd/{TAG}", encode_command(mine))
            assert (await plant.result("mine")).state is CommandState.CONFIRMED

            # the same token, seen on cmd/ and sent from another node: refused
            stolen = operator("stolen", 43, token=station)
            wire.receive(bus, "intruder-7", f"cmd/{TAG}", encode_command(stolen))
            result = await plant.result("stolen")
            assert result.state is CommandState.REJECTED
            assert result.message == (
                "the session belongs to node 'station-1', not to 'intruder-7'"
            )
            assert plant.register() == 42

    asyncio.run(main())
