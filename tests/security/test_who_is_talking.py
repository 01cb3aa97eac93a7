"""Threats: a node speaking for another (issue 13, item 5; docs/bus-protocol.md, "Who is
talking"). The broker binds a node's id to its connection (the DEALER's routing id) and,
with CURVE, to the key that first used it: control messages for another id are refused,
counted, and change nothing."""

from __future__ import annotations

import asyncio

from hmi.bus import bind_store, connect
from hmi.bus.broker import Broker
from hmi.bus.wire.frames import Kind
from hmi.bus.wire.samples import encode_samples
from hmi.core import Sample, TagStore

from .attacker import Attacker, until

BEAT = 0.2


async def plant(address, keys, **broker_options):
    """A CURVE broker with the plant's policy, a driver node publishing a tag, and a
    station showing it."""
    broker = Broker(
        address,
        heartbeat=BEAT,
        secret=keys.server,
        policy=keys.policy,
        write_state_file=False,
        **broker_options,
    )
    await broker.start()
    driver = await connect(address, name="drivers", keys=keys.client("drivers"), heartbeat=BEAT)
    station = await connect(address, name="station", keys=keys.client("station"), heartbeat=BEAT)
    store = TagStore()
    bind_store(station, store, "tag/#")
    driver.publish("tag/a/plc", encode_samples({"a/pump/flow": Sample(3.5)}))
    await until(lambda: store.get("a/pump/flow").value == 3.5)
    return broker, driver, station, store


async def close(*things):
    for thing in things:
        result = thing.close()
        if asyncio.iscoroutine(result):
            await result


def test_a_bye_with_another_nodes_id_is_refused_and_its_tags_stay_good(address, keys):
    """Attack: mallory sends BYE naming the driver node: every subscriber would see the
    driver's tags "node dead" while it runs."""

    async def main():
        broker, driver, station, store = await plant(address, keys)
        deaths = []
        station.subscribe("$sys/node/+/dead", lambda topic, payload: deaths.append(topic))
        mallory = Attacker(address, "mallory", keys.client("mallory"))
        try:
            victim = driver.transport.node_id
            mallory.send(Kind.BYE, "$sys/broker", None, sender=victim)
            await until(lambda: broker.stats.refusals["sender"] == 1)
            assert broker.nodes[victim.encode()].alive
            # Whatever the BYE caused would be out before this later publication.
            driver.publish("tag/a/plc", encode_samples({"a/pump/flow": Sample(3.6)}))
            await until(lambda: store.get("a/pump/flow").value == 3.6)
            assert store.get("a/pump/flow").quality.is_good
            assert deaths == []
            assert broker.stats.refused == 1
        finally:
            mallory.close()
            await close(station, driver, broker)

    asyncio.run(main())


def test_a_hello_or_heartbeat_with_another_nodes_id_is_refused(address, keys):
    """Attack: mallory says HELLO and HEARTBEAT naming the driver node (to rename it, to
    keep it alive after it died)."""

    async def main():
        broker, driver, station, _ = await plant(address, keys)
        mallory = Attacker(address, "mallory", keys.client("mallory"))
        try:
            victim = driver.transport.node_id
            hello = {"name": "evil", "pid": 1, "host": "x", "targets": ["drivers"]}
            mallory.send(Kind.HELLO, "$sys/broker", hello, sender=victim)
            mallory.send(
                Kind.HEARTBEAT, "$sys/broker", {"pid": 1, "heartbeat": 3600}, sender=victim
            )
            await until(lambda: broker.stats.refusals["sender"] == 2)
            node = broker.nodes[victim.encode()]
            assert (node.name, node.heartbeat) == ("drivers", BEAT)
            assert b"mallory" not in broker.nodes  # a refused message makes no node
            assert mallory.received() == []  # no welcome
        finally:
            mallory.close()
            await close(station, driver, broker)

    asyncio.run(main())


def test_another_key_presenting_the_id_of_a_live_node_is_refused(address, keys):
    """Attack: a node's connection is gone (its process crashed); before the broker
    declares it dead, mallory connects with its id, under its own admitted key."""

    async def main():
        broker, driver, station, _ = await plant(address, keys)
        victim = Attacker(address, "backend-7", keys.client("backend"))
        mallory = None
        try:
            victim.send(Kind.HELLO, "$sys/broker", {"name": "backend", "heartbeat": 60.0})
            await until(victim.received)  # welcomed
            victim.close()  # gone, but alive for the broker for 3.5 x 60 s
            mallory = Attacker(address, "backend-7", keys.client("mallory"))
            mallory.send(Kind.BYE, "$sys/broker", None)
            mallory.send(Kind.HEARTBEAT, "$sys/broker", {"pid": 666})
            await until(lambda: broker.stats.refusals["key"] == 2)
            node = broker.nodes[b"backend-7"]
            assert node.alive and node.pid != 666 and node.key == keys.client("backend").pair.public
        finally:
            if mallory is not None:
                mallory.close()
            await close(station, driver, broker)

    asyncio.run(main())


def test_a_connection_taking_a_live_nodes_id_receives_none_of_its_calls(address, keys):
    """Attack: mallory connects with the backend's node id (under its own key) to have
    the broker route the calls of the backend's targets (logins: passwords) to it.
    With a policy the first connection keeps its id: the second one is not heard."""

    class Security:
        from hmi.bus import expose

        @expose
        def login(self, user, password):
            return {"user": user, "by": "the real service"}

    async def main():
        broker, driver, station, _ = await plant(address, keys)
        backend = await connect(
            address, name="backend", keys=keys.client("backend"), heartbeat=BEAT
        )
        backend.expose("security", Security())
        await until(lambda: "security" in broker.targets)
        mallory = Attacker(address, backend.transport.node_id, keys.client("mallory"))
        try:
            mallory.send(Kind.HEARTBEAT, "$sys/broker", {"pid": 1})
            for _ in range(3):
                answer = await station.call("security", "login", "olga", "secret", timeout=2)
                assert answer == {"user": "olga", "by": "the real service"}
            assert mallory.received() == []
            assert broker.stats.refused == 0  # never heard at all: libzmq ignores it
        finally:
            mallory.close()
            await close(backend, station, driver, broker)

    asyncio.run(main())


def test_without_a_policy_the_front_still_refuses_another_nodes_id(address):
    """Attack, on a broker without CURVE (a single trusted machine): a BYE naming
    another node sent through the front. (What the fast path cannot check is in
    docs/bus-protocol.md, "Who is talking".)"""

    async def main():
        broker = Broker(address, heartbeat=BEAT, write_state_file=False)
        await broker.start()
        driver = await connect(address, name="drivers", heartbeat=BEAT)
        mallory = Attacker(address, "mallory")
        try:
            mallory.send(Kind.BYE, "$sys/broker", None, sender=driver.transport.node_id)
            await until(lambda: broker.stats.refusals["sender"] == 1)
            assert broker.nodes[driver.transport.node_id.encode()].alive
        finally:
            mallory.close()
            await close(driver, broker)

    asyncio.run(main())
