"""The threat catalogue against a running plant: every attack of issue 13 tried from a
process with an admitted key (a station's, gone bad) against real ``hmi broker``,
``hmi node`` and ``hmi backend`` processes (CURVE with the example's policy), each refused,
counted where the broker refuses it, and audited where a user is named.

The plant is started once for the module; each test is one attack. The attacker is this
test process: a bus client holding ``station-2``'s key (it may publish ``cmd/``,
``audit/write`` and call ``rpc/``, and serve nothing), and for frame-level attacks a raw
ZeroMQ socket (tests/security/attacker.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from hmi.bus import Bus, RemoteError, connect, expose
from hmi.bus.local.store import bind_store
from hmi.bus.net.keys import ClientKeys, KeyPair
from hmi.bus.wire.frames import Kind
from hmi.bus.wire.messages import encode_command
from hmi.core.command import Command
from hmi.core.tagstore import TagStore
from tests.app.helpers import Results
from tests.bus.conftest import free_port_pair
from tests.deploy.processes import Command as Process
from tests.deploy.processes import control_room_project, environment
from tests.drivers.helpers import free_port
from tests.security.attacker import Attacker

pytestmark = pytest.mark.slow

SP, LEVEL = "area1/lic101/sp", "area1/t101/level"


class Plant:
    """The running plant's address and keys."""

    def __init__(self, folder: Path, broker_port: int) -> None:
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{broker_port}"

    def keys(self, name: str = "station-2") -> ClientKeys:
        keys = self.folder / "keys"
        return ClientKeys(
            KeyPair.load(keys / f"{name}.key_secret"), KeyPair.load(keys / "broker.key").public
        )

    @asynccontextmanager
    async def client(self, name: str = "attacker") -> AsyncIterator[Bus]:
        """A bus client with station-2's admitted key."""
        bus = await connect(self.address, name=name, keys=self.keys())
        try:
            yield bus
        finally:
            await bus.close()


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    folder = tmp_path_factory.mktemp("plant")
    broker_port, plc_port = free_port_pair(), free_port()
    project = control_room_project(folder, broker_port=broker_port, plc_port=plc_port)
    env = environment(folder)
    logs = folder / "logs"
    logs.mkdir()
    names = ("broker", "drivers", "backend", "station", "station-2")
    keys = Process(
        "keys",
        *("keys", "generate", *names, "--dir", str(folder / "keys")),
        env=env,
        log=logs / "keys.log",
    )
    assert keys.proc.wait(30) == 0, keys.text()
    started: list[Process] = []
    try:
        for name, args in (
            ("broker", ("broker", str(project), "--quiet")),
            ("sim", ("sim", "--port", str(plc_port))),
            ("node", ("node", str(project), "--name", "drivers")),
            ("backend", ("backend", str(project), "--data", str(folder / "data"))),
        ):
            started.append(Process(name, *args, env=env, log=logs / f"{name}.log"))
        started[2].wait_for("; ready", 30)
        started[3].wait_for("; ready", 30)
        yield Plant(folder, broker_port)
    finally:
        for process in reversed(started):
            process.stop()


async def login(bus: Bus, user: str) -> str:
    """A session of ``user`` (password demo-<user>) on ``bus``'s node."""
    node = getattr(bus.transport, "node_id", "")
    info = await bus.call("security", "login", user, f"demo-{user}", node=node)
    return str(info["token"])


async def audit(bus: Bus, **match: Any) -> list[dict[str, Any]]:
    """The audit rows (read as an engineer) whose fields equal ``match``."""
    token = await login(bus, "engineer")
    rows = await bus.call("audit", "recent", 200, token=token)
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


async def wait_rows(bus: Bus, predicate: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Audit rows matching ``predicate``, once there are some (the recorder is async)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in await audit(bus) if predicate(r)]
        if rows or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


def command(tag: str, value: Any, **fields: Any) -> Command:
    return Command(id=uuid.uuid4().hex, tag=tag, value=value, time=time.time(), **fields)


async def refusals(bus: Bus) -> dict[str, int]:
    """The broker's refusals by reason, from its next ``$sys/stats``."""
    got: asyncio.Future[dict[str, int]] = asyncio.get_running_loop().create_future()

    def on_stats(topic: str, payload: Any) -> None:
        if not got.done() and isinstance(payload, dict):
            got.set_result(dict(payload.get("refusals", {})))

    sub = bus.subscribe("$sys/stats", on_stats)
    try:
        return await asyncio.wait_for(got, 10)
    finally:
        sub.cancel()


async def settle(bus: Bus) -> None:
    """One round trip through the broker: a subscription just made is active after it."""
    await bus.call("alarms", "limits")


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))


# -- 1. a command without a session -------------------------------------------------------


def test_1_a_tokenless_command_claiming_a_role_is_rejected_and_audited(plant: Plant) -> None:
    async def attack() -> None:
        async with plant.client() as bus:
            results = Results(bus)
            await settle(bus)
            forged = command(SP, 4.0, user="operator", roles=frozenset({"operator"}))
            bus.publish(f"cmd/{SP}", encode_command(forged))
            result = await results.wait(forged.id, 10)
            assert result.state.value == "rejected"
            assert "not logged in" in result.message
            rows = await wait_rows(bus, lambda r: "not logged in" in r["reason"])
            assert rows and rows[-1]["outcome"] == "rejected"

    run(attack())


# -- 2. RPC target hijack -------------------------------------------------------------------


class FakeSecurity:
    """What a hijacker would serve: it would see user names and passwords."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @expose
    def login(self, user: str, password: str, **_: Any) -> dict[str, Any]:
        self.calls.append((user, password))
        return {"token": "x", "user": user, "roles": ["admin"], "expires": 0}


def test_2_exposing_security_without_a_serve_right_is_refused_and_counted(plant: Plant) -> None:
    async def attack() -> None:
        async with plant.client("hijacker") as hijacker, plant.client("victim") as victim:
            fake = FakeSecurity()
            before = (await refusals(victim)).get("serve", 0)
            hijacker.expose("security", fake)
            for _ in range(20):  # until the broker counted the refused EXPOSE
                if (await refusals(victim)).get("serve", 0) > before:
                    break
            token = await login(victim, "operator")
            assert token.count(".") == 2  # a real signed session, from the real backend
            assert fake.calls == []
            assert (await refusals(victim)).get("serve", 0) > before
            hijacker.unexpose("security")
            await settle(hijacker)
            assert await login(victim, "operator")  # the real target is still there

    run(attack())


# -- 3. admin calls without rights -----------------------------------------------------------


def test_3_admin_calls_need_their_permission_and_are_audited(plant: Plant) -> None:
    async def attack() -> None:
        async with plant.client() as bus:
            viewer = await login(bus, "viewer")
            raise_limit = [{"name": SP, "device": "plc1", "address": "hr:0", "type": "uint16"}]
            for token in ("", viewer):
                with pytest.raises(RemoteError) as refused:
                    await bus.call("drivers", "set_tags", raise_limit, token=token)
                assert refused.value.remote_type == "PermissionError"
            with pytest.raises(RemoteError) as refused:
                await bus.call("drivers", "remove_device", "plc1", token=viewer)
            assert refused.value.remote_type == "PermissionError"
            with pytest.raises(RemoteError) as refused:
                await bus.call("audit", "recent", 10, token=viewer)
            assert refused.value.remote_type == "PermissionError"
            with pytest.raises(RemoteError) as gone:
                await bus.call("audit", "export_csv", "/tmp/x.csv", token=viewer)
            assert gone.value.remote_type == "AttributeError"  # no such method any more
            assert await bus.call("drivers", "devices") == ["plc1"]
            rows = await wait_rows(
                bus, lambda r: r["action"] == "drivers.set_tags" and r["outcome"] == "denied"
            )
            assert {r["user"].split(" ")[0] for r in rows} >= {"viewer", "?"}

    run(attack())


# -- 4. tokens replayed, from another node, after logout ---------------------------------------


def test_4_sniffed_tokens_replay_nowhere_and_die_with_the_logout(plant: Plant) -> None:
    async def attack() -> None:
        async with plant.client("operator-station") as station, plant.client("sniffer") as sniffer:
            seen: list[dict[str, Any]] = []
            sniffer.subscribe("cmd/#", lambda topic, payload: seen.append(payload))
            results, stolen_results = Results(station), Results(sniffer)
            await settle(sniffer)
            await settle(station)
            token = await login(station, "operator")
            write = command(SP, 2.5, user="operator", token=token)
            station.publish(f"cmd/{SP}", encode_command(write))
            assert (await results.wait(write.id, 10)).state.value == "confirmed"
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.05)
            sniffed = seen[-1]
            assert sniffed["token"] == token  # bearer tokens are visible on cmd/: hence below

            # the very same command again: refused as a replay (a second result, same id)
            await stolen_results.wait(write.id, 10)  # the sniffer has the first one
            answers: list[Any] = []
            sniffer.subscribe(
                f"result/{SP}",
                lambda topic, payload: (
                    answers.append(payload) if payload.get("id") == sniffed["id"] else None
                ),
            )
            await settle(sniffer)
            sniffer.publish(f"cmd/{SP}", sniffed)
            for _ in range(200):
                if answers:
                    break
                await asyncio.sleep(0.05)
            assert answers and answers[-1]["state"] == "rejected", answers
            assert "replay" in answers[-1]["message"].lower() or "seen" in answers[-1]["message"]
            # a new command with the sniffed token, from another node: refused
            theft = command(SP, 3.9, user="operator", token=token)
            sniffer.publish(f"cmd/{SP}", encode_command(theft))
            stolen = await stolen_results.wait(theft.id, 10)
            assert stolen.state.value == "rejected" and "node" in stolen.message

            # after the logout the owner's own token writes no more
            await station.call("security", "logout", token)
            late = command(SP, 2.6, user="operator", token=token)
            station.publish(f"cmd/{SP}", encode_command(late))
            after = await results.wait(late.id, 10)
            assert after.state.value == "rejected" and "logged out" in after.message

    run(attack())


# -- 5. spoofed control messages ----------------------------------------------------------------


def test_5_a_bye_for_the_driver_node_is_refused_and_its_values_stay_good(plant: Plant) -> None:
    async def attack() -> None:
        async with plant.client("watcher") as watcher:
            store = TagStore()
            bind_store(watcher, store, "tag/#")
            deaths: list[Any] = []
            watcher.subscribe("$sys/node/+/dead", lambda topic, payload: deaths.append(payload))
            stats: list[dict[str, Any]] = []
            watcher.subscribe("$sys/stats", lambda topic, payload: stats.append(payload))
            for _ in range(100):
                if stats:
                    break
                await asyncio.sleep(0.05)
            [driver_id] = [n["id"] for n in stats[-1]["nodes"] if n["name"] == "drivers"]
            raw = Attacker(plant.address, "mallory", plant.keys())
            try:
                raw.send(Kind.BYE, "$sys/broker", None, sender=driver_id)
                raw.send(Kind.PUB, "$sys/broker", {"id": "fake", "heartbeat": 1.0})
                await asyncio.sleep(1.0)
            finally:
                raw.close()
            counts = await refusals(watcher)
            assert counts.get("sender", 0) >= 1 and counts.get("sys", 0) >= 1
            await settle(watcher)
            assert store.get(LEVEL).quality.is_good, store.get(LEVEL)  # never "node dead"
            assert not [d for d in deaths if d.get("id") == driver_id]

    run(attack())


# -- 6. topic and payload disagree ----------------------------------------------------------------


def test_6_a_command_whose_topic_names_another_tag_is_rejected(plant: Plant) -> None:
    async def attack() -> None:
        async with plant.client() as bus:
            results = Results(bus)
            token = await login(bus, "operator")  # (also lets the subscription settle)
            # the topic names the setpoint (allowed), the payload an engineer-only tag
            sneaky = command("area1/lic101/kp", 9.0, user="operator", token=token)
            bus.publish(f"cmd/{SP}", encode_command(sneaky))
            result = await results.wait(sneaky.id, 10)
            assert result.state.value == "rejected"
            assert "disagree" in result.message

    run(attack())


# -- 7. refused alarm requests, login guessing ------------------------------------------------


def test_7_a_viewers_acknowledge_is_refused_and_guessing_is_throttled(plant: Plant) -> None:
    async def attack() -> None:
        async with plant.client("guesser") as bus:
            viewer = await login(bus, "viewer")
            with pytest.raises(RemoteError) as refused:
                await bus.call("alarms", "acknowledge", ["area1/p101/tripped"], token=viewer)
            assert refused.value.remote_type == "PermissionError"
            rows = await wait_rows(
                bus, lambda r: r["user"] == "viewer" and r["outcome"] == "denied"
            )
            assert rows
            answers = []
            for _ in range(7):
                try:
                    await bus.call("security", "login", "admin", "guess", timeout=10)
                except RemoteError as exc:
                    answers.append(exc.remote_type)
            assert answers[-1] == "LoginThrottled", answers
        async with plant.client("auditor") as auditor:  # (the guesser's node is locked now)
            assert await wait_rows(auditor, lambda r: "rate limited" in r["reason"])

    run(attack())
