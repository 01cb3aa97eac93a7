"""Threats: a node posing as the broker on ``$sys/`` (issue 13, item 5). On the checked
path only the broker publishes there (nodes: ``$sys/device/`` with a right for it); on
the fast path (no authentication at all) a forged broker heartbeat at least cannot throw
nodes into resync cycles: only a welcome, on a node's own connection, names its broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from hmi.bus import bind_store, connect
from hmi.bus.broker import Broker
from hmi.bus.wire.samples import encode_samples
from hmi.core import Sample, TagStore

from .attacker import FastPublisher, until

BEAT = 0.2


@pytest.mark.parametrize("policy", [True, False], ids=["curve-policy", "no-fast-path"])
def test_a_node_publishing_the_brokers_sys_topics_is_refused_on_the_checked_path(
    address, keys, policy
):
    """Attack: mallory (with CURVE even holding a ``$sys/`` publish right) publishes a
    broker heartbeat with a made-up id and a death notice of the driver node: stations
    would resync, and alarm "node dead"."""
    curve = {"secret": keys.server, "policy": keys.policy} if policy else {"fast_path": False}

    def client(name):
        return {"keys": keys.client(name)} if policy else {}

    async def main():
        broker = Broker(address, heartbeat=BEAT, write_state_file=False, **curve)
        await broker.start()
        driver = await connect(address, name="drivers", heartbeat=BEAT, **client("drivers"))
        station = await connect(address, name="station", heartbeat=BEAT, **client("station"))
        mallory = await connect(address, name="mallory", heartbeat=BEAT, **client("mallory"))
        seen = []
        station.subscribe("$sys/#", lambda topic, payload: seen.append((topic, payload)))
        try:
            victim = driver.transport.node_id
            await until(lambda: any(topic == "$sys/broker" for topic, _ in seen))
            mallory.publish("$sys/broker", {"id": "f00dfeedf00d", "time": 0.0, "heartbeat": 1})
            mallory.publish(f"$sys/node/{victim}/dead", {"id": victim, "why": "silent"})
            mallory.publish("$sys/stats", {"nodes": []})
            await until(lambda: broker.stats.refusals["sys"] == 3)
            # the drivers' device status is theirs to publish (a right for $sys/device/)
            driver.publish("$sys/device/plc1", {"connected": True})
            await until(lambda: any(topic == "$sys/device/plc1" for topic, _ in seen))
            assert not any(topic.startswith("$sys/node/") for topic, _ in seen)
            assert all(
                payload.get("id") == broker.id for topic, payload in seen if topic == "$sys/broker"
            )
            assert station.transport.session.resyncs == 1  # the first welcome's only
            assert broker.stats.refused == 3
        finally:
            await mallory.close()
            await station.close()
            await driver.close()
            await broker.close()

    asyncio.run(main())


def test_fake_broker_heartbeats_on_the_fast_path_cause_no_resync_cycle(address):
    """Attack: any client on the fast path publishes ``$sys/broker`` heartbeats with
    made-up broker ids, many a second (measured before: 426 "broker restarted,
    resyncing" cycles in other nodes)."""

    async def main():
        broker = Broker(address, heartbeat=BEAT, write_state_file=False)
        await broker.start()
        driver = await connect(address, name="drivers", heartbeat=BEAT)
        station = await connect(address, name="station", heartbeat=BEAT)
        store = TagStore()
        bind_store(station, store, "tag/#")
        driver.publish("tag/a/plc", encode_samples({"a/pump/flow": Sample(3.5)}))
        await until(lambda: store.get("a/pump/flow").value == 3.5)
        session = station.transport.session
        resyncs = session.resyncs
        hellos = []
        real_hello = session.hello
        session.hello = lambda: (hellos.append(1), real_hello())
        fakes = []
        station.subscribe(
            "$sys/broker",
            lambda topic, payload: fakes.append(1) if payload.get("id") != broker.id else None,
        )
        attacker = FastPublisher(broker.fast_endpoint)
        try:
            await attacker.ready()
            for seq in range(1, 301):
                beat = {"id": uuid.uuid4().hex[:12], "time": 0.0, "heartbeat": 0.05}
                attacker.publish("$sys/broker", beat, "$broker", seq)
            await until(lambda: len(fakes) == 300)
            driver.publish("tag/a/plc", encode_samples({"a/pump/flow": Sample(3.6)}))
            await until(lambda: store.get("a/pump/flow").value == 3.6)
            assert session.resyncs == resyncs  # not one resync
            assert len(hellos) <= 2  # a hello at most once per broker heartbeat interval
            assert station.transport.broker_id == broker.id
            assert station.transport.link_state == "connected"
        finally:
            attacker.close()
            await station.close()
            await driver.close()
            await broker.close()

    asyncio.run(main())
