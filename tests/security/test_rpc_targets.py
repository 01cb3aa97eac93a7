"""Threats: taking over RPC targets, and answering calls one was not asked (issue 13,
items 2 and 3). Exposing needs a ``serve:`` right; a name a live node serves cannot be
taken; only its server withdraws it; the broker passes on a reply only for a request it
routed to that node. (Direct calls around the broker need its ticket:
test_stream_tickets.py.)"""

from __future__ import annotations

import asyncio

from hmi.bus import connect, expose
from hmi.bus.broker import Broker
from hmi.bus.wire.frames import Kind

from .attacker import Attacker, until

BEAT = 0.2


class Security:
    """The backend's security service, as far as these attacks need it."""

    def __init__(self, who="the real service"):
        self.who = who
        self.logins = []
        self.release = asyncio.Event()

    @expose
    def login(self, user, password):
        self.logins.append((user, password))
        return {"user": user, "by": self.who}

    @expose
    async def slow(self):
        await self.release.wait()
        return "the real answer"


async def plant(address, keys):
    """A CURVE broker with the plant's policy, the backend serving ``security``, a
    station calling it."""
    broker = Broker(
        address, heartbeat=BEAT, secret=keys.server, policy=keys.policy, write_state_file=False
    )
    await broker.start()
    backend = await connect(address, name="backend", keys=keys.client("backend"), heartbeat=BEAT)
    service = Security()
    backend.expose("security", service)
    station = await connect(address, name="station", keys=keys.client("station"), heartbeat=BEAT)
    await until(lambda: "security" in broker.targets)
    return broker, backend, service, station


async def close(*things):
    for thing in things:
        await thing.close()


def test_exposing_security_without_a_serve_right_is_refused(address, keys):
    """Attack: mallory, whose key may call but serve nothing, exposes ``security`` to
    receive the operators' user names and passwords."""

    async def main():
        broker, backend, _, station = await plant(address, keys)
        mallory = await connect(
            address, name="mallory", keys=keys.client("mallory"), heartbeat=BEAT
        )
        fake = Security("mallory")
        try:
            mallory.expose("security", fake)
            await until(lambda: broker.stats.refusals["serve"] == 1)
            assert broker.targets["security"] == backend.transport.node_id.encode()
            answer = await station.call("security", "login", "olga", "secret", timeout=2)
            assert answer["by"] == "the real service"
            assert fake.logins == []
        finally:
            await close(mallory, station, backend, broker)

    asyncio.run(main())


def test_a_target_named_in_a_hello_without_a_serve_right_is_refused(address, keys):
    """Attack: the same, through the target list of a HELLO."""

    async def main():
        broker, backend, _, station = await plant(address, keys)
        mallory = Attacker(address, "mallory-1", keys.client("mallory"))
        try:
            mallory.send(Kind.HELLO, "$sys/broker", {"name": "m", "targets": ["security", "x"]})
            await until(lambda: broker.stats.refusals["serve"] == 2)
            assert broker.targets == {"security": backend.transport.node_id.encode()}
            answer = await station.call("security", "login", "olga", "secret", timeout=2)
            assert answer["by"] == "the real service"
        finally:
            mallory.close()
            await close(station, backend, broker)

    asyncio.run(main())


def test_a_second_node_cannot_take_a_live_target_and_gets_it_only_when_it_is_free(address, keys):
    """Attack: a second key that may serve ``security`` too (a standby backend gone
    bad) exposes it while the backend serves it. Its claim waits: when the backend
    stops, the name goes to it (today's hand-over of a dead node's targets)."""

    async def main():
        broker, backend, _, station = await plant(address, keys)
        standby = await connect(
            address, name="backend-2", keys=keys.client("backend-2"), heartbeat=BEAT
        )
        try:
            standby.expose("security", Security("the standby"))
            await until(lambda: broker.stats.refusals["taken"] == 1)
            answer = await station.call("security", "login", "olga", "secret", timeout=2)
            assert answer["by"] == "the real service"
            await backend.close()  # BYE: dead, its names free
            await until(
                lambda: broker.targets.get("security") == standby.transport.node_id.encode()
            )
            answer = await station.call("security", "login", "olga", "secret", timeout=2)
            assert answer["by"] == "the standby"
        finally:
            await close(standby, station, backend, broker)

    asyncio.run(main())


def test_an_unexpose_by_a_node_that_does_not_serve_the_target_changes_nothing(address, keys):
    """Attack: mallory withdraws ``security`` (before: gone for everyone, LookupError)."""

    async def main():
        broker, backend, _, station = await plant(address, keys)
        mallory = Attacker(address, "mallory-1", keys.client("mallory"))
        try:
            mallory.send(Kind.EXPOSE, "$sys/broker", ["security", False])
            mallory.send(Kind.HEARTBEAT, "$sys/broker", {})
            await until(
                lambda: b"mallory-1" in broker.nodes and broker.nodes[b"mallory-1"].messages == 2
            )
            assert broker.targets["security"] == backend.transport.node_id.encode()
            answer = await station.call("security", "login", "olga", "secret", timeout=2)
            assert answer["by"] == "the real service"
        finally:
            mallory.close()
            await close(station, backend, broker)

    asyncio.run(main())


def test_an_unsolicited_rpc_reply_is_refused_and_the_real_reply_still_comes(address, keys):
    """Attack: mallory pushes a reply into the station's call in flight (call ids are a
    counter: easy to guess), to hand it a forged answer."""

    async def main():
        broker, backend, service, station = await plant(address, keys)
        mallory = Attacker(address, "mallory-1", keys.client("mallory"))
        try:
            call = asyncio.ensure_future(station.call("security", "slow", timeout=5))
            await until(lambda: len(broker.doors.calls) == 1)
            caller = station.transport.node_id
            for call_id in range(1, 5):
                mallory.send(Kind.RPC_REP, f"rpc/{caller}", [call_id, True, "forged"])
            await until(lambda: broker.stats.refusals["reply"] == 4)
            assert not call.done()
            service.release.set()
            assert await call == "the real answer"
            # the same reply again, now that the request was answered: refused too
            backend.transport.send_front([f"rpc/{caller}".encode(), *_reply_frames(backend, 1)])
            await until(lambda: broker.stats.refusals["reply"] == 5)
        finally:
            mallory.close()
            await close(station, backend, broker)

    asyncio.run(main())


def _reply_frames(bus, call_id):
    import time

    from hmi.bus.wire.frames import pack_header, pack_payload

    header = pack_header(Kind.RPC_REP, bus.transport.node_id, 0, time.time())
    return [header, pack_payload([call_id, True, "late"])]
