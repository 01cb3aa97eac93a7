"""Who sent what a node receives (``ZmqTransport.current_sender``), and a node id the
broker keeps to its connection (real brokers on 127.0.0.1)."""

from __future__ import annotations

import asyncio

import zmq

from hmi.bus import bind_store, connect, expose
from hmi.bus.broker import Broker
from hmi.bus.net import session
from hmi.bus.net.auth import ClientRule, Policy
from hmi.bus.net.keys import ClientKeys, KeyPair
from hmi.bus.wire.frames import Kind, encode
from hmi.bus.wire.samples import encode_samples
from hmi.core import Sample, TagStore

from .test_zmq_bus import node, until


def test_a_subscriber_knows_which_node_a_received_message_came_from(address):
    async def main():
        broker = Broker(address, heartbeat=0.1, fast_path=False, write_state_file=False)
        await broker.start()
        station = await node(address, "station")
        driver = await node(address, "drivers")
        seen = []

        def on_command(topic, payload):
            seen.append((payload["id"], driver.transport.current_sender))
            if payload["id"] == "remote":  # a local publication in answer to it
                driver.publish("result/x", {"id": "answer"})

        async def later(topic, payload):  # an async callback: a task of its own
            await asyncio.sleep(0.01)  # (other messages are delivered meanwhile)
            seen.append((f"{payload['id']} later", driver.transport.current_sender))

        driver.subscribe("cmd/#", on_command)
        driver.subscribe("cmd/#", later)
        driver.subscribe(
            "result/#", lambda t, p: seen.append((p["id"], driver.transport.current_sender))
        )
        # a subscription to tag/ after them: once its probe is back (the snapshot asked
        # for), the broker has the subscriptions made before it
        driver.subscribe("tag/#", lambda t, p: None)
        resync = driver.transport.resync
        try:
            await until(lambda: not resync.asked and not resync.probes)
            station.publish("cmd/x", {"id": "remote"})
            await until(lambda: len(seen) == 3)
            driver.publish("cmd/x", {"id": "local"})
            await until(lambda: len(seen) == 5)
            assert seen == [
                ("remote", station.transport.node_id),
                # delivered in the same call, after the message it answers: its sender
                ("answer", station.transport.node_id),
                ("remote later", station.transport.node_id),  # kept across its awaits
                ("local", None),  # this node's own
                ("local later", None),
            ]
            assert driver.transport.current_sender is None  # only during a delivery
        finally:
            await driver.close()
            await station.close()
            await broker.close()

    asyncio.run(main())


def test_a_served_call_and_a_snapshot_know_who_sent_them(address):
    class Who:
        def __init__(self, bus):
            self.bus = bus

        @expose
        def caller(self):
            return self.bus.transport.current_sender

        @expose
        async def caller_later(self):
            await asyncio.sleep(0.01)
            return self.bus.transport.current_sender

    async def main():
        broker = Broker(address, heartbeat=0.1, write_state_file=False)
        await broker.start()
        server = await node(address, "server")
        server.expose("who", Who(server))
        client = await node(address, "client")
        try:
            await until(lambda: "who" in broker.targets)
            assert await client.call("who", "caller") == client.transport.node_id
            # the second call goes direct (ROUTE): the caller is its routing id there
            assert await client.call("who", "caller") == client.transport.node_id
            assert await client.call("who", "caller_later") == client.transport.node_id
            assert server.transport.current_sender is None
            server.publish("tag/a/plc", encode_samples({"a/x": Sample(1.0)}))
            await until(lambda: len(broker.cache) == 1)
            senders = []
            late = await node(address, "late")
            late.subscribe("tag/#", lambda t, p: senders.append(late.transport.current_sender))
            await until(lambda: senders)
            assert senders == ["$broker"]  # the broker's snapshot of its cache
            await late.close()
        finally:
            await client.close()
            await server.close()
            await broker.close()

    asyncio.run(main())


def test_a_node_whose_id_the_broker_keeps_to_an_old_connection_connects_again(address, monkeypatch):
    """With a policy the broker keeps a node id to the connection that has it (no
    handover). A node whose new connection is not heard (its old one not closed yet)
    connects again until the broker hears it: it is never stuck."""
    server, key = KeyPair.generate(), KeyPair.generate()
    policy = Policy([ClientRule("n", key.public, ("tag/",))])
    keys = ClientKeys(key, server.public)
    monkeypatch.setattr(session, "WELCOME_WAIT", 0.5)  # (5 s: the broker's ZMTP timeout)

    async def main():
        broker = Broker(
            address, heartbeat=0.1, secret=server, policy=policy, write_state_file=False
        )
        await broker.start()
        ctx = zmq.Context()
        old = ctx.socket(zmq.DEALER)  # the node's old connection, still open
        old.linger = 0
        old.routing_id = b"node-1"
        keys.apply(old)
        old.connect(address)
        old.send_multipart(encode("$sys/broker", Kind.HELLO, "node-1", 0, 0.0, {"name": "n"}))
        await until(lambda: b"node-1" in broker.nodes)
        bus = await connect(
            address, name="n", node_id="node-1", keys=keys, heartbeat=0.1, wait=None
        )
        store = TagStore()
        bind_store(bus, store, "tag/#")
        try:
            assert not await bus.transport.wait_connected(0.5)  # not heard yet
            old.close()
            assert await bus.transport.wait_connected(10)
            assert bus.transport._watch.counts["succeeded"] >= 2  # it connected again
            bus.publish("tag/a/plc", encode_samples({"a/x": Sample(2.0)}))
            await until(lambda: len(broker.cache) == 1)
        finally:
            await bus.close()
            await broker.close()
            ctx.term()

    asyncio.run(main())
