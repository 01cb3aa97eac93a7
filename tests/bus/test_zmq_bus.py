"""Nodes through a real broker on 127.0.0.1: pub/sub, RPC, late join, death, restart."""

from __future__ import annotations

import asyncio
import socket
import sys
import time

import msgpack
import pytest
import zmq

from hmi.bus import Actor, RemoteError, RpcTimeout, Supervisor, bind_store, connect, expose
from hmi.bus.broker import Broker
from hmi.bus.net.noderpc import NodeRpc
from hmi.bus.wire.frames import Kind, pack_header
from hmi.bus.wire.samples import encode_samples
from hmi.core import Quality, Reason, Sample, Severity, TagStore


async def until(predicate, timeout=5.0):
    """Wait for ``predicate()`` by polling the loop (sockets: no virtual clock here)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def node(address, name, **kw):
    kw.setdefault("heartbeat", 0.1)
    return await connect(address, name=name, **kw)


class Pump(Actor):
    name = "pump1"

    def __init__(self):
        super().__init__()
        self.commands = []

    def handle_Start(self, msg):
        self.commands.append(msg)
        self.send_Started(by=msg["by"])

    @expose
    def speed(self, factor=1.0):
        return 1450 * factor

    @expose
    async def slow(self, delay):
        await asyncio.sleep(delay)
        return delay

    @expose
    def broken(self):
        raise ValueError("bearing seized")


def test_pubsub_rpc_and_actors_across_nodes(address):
    async def main():
        broker = Broker(address, heartbeat=0.1)
        await broker.start()
        a = await node(address, "a")
        b = await node(address, "b")
        try:
            got = []
            b.subscribe("tag/line1/#", lambda t, p: got.append((t, p)))
            await asyncio.sleep(0.1)  # SUB subscriptions travel to the broker
            a.publish("tag/line1/plc", [["line1/p/x", 1.5, 0, 1.0]])
            a.publish("tag/line10/plc", [["line10/p/x", 9, 0, 1.0]])
            await until(lambda: got)
            assert got == [("tag/line1/plc", [["line1/p/x", 1.5, 0, 1.0]])]

            sup = Supervisor(b)
            pump = await sup.start(Pump())
            await asyncio.sleep(0.05)
            assert await a.call("pump1", "speed", factor=2) == 2900
            assert await a.call("pump1", "slow", 0.01) == 0.01
            with pytest.raises(RemoteError) as err:
                await a.call("pump1", "broken")
            assert err.value.remote_type == "ValueError"
            assert "bearing seized" in str(err.value)
            with pytest.raises(RemoteError) as err:
                await a.call("nobody", "x")
            assert err.value.remote_type == "LookupError"
            with pytest.raises(RpcTimeout):
                await a.call("pump1", "slow", 5, timeout=0.05)
            results = await asyncio.gather(*(a.call("pump1", "speed", i) for i in range(100)))
            assert results == [1450 * i for i in range(100)]

            started = []
            a.subscribe("msg/Started", lambda t, p: started.append(p))
            await asyncio.sleep(0.1)
            a.publish("msg/Start", {"by": "ann"})
            await until(lambda: started)
            assert pump.commands == [{"by": "ann"}]
            assert started == [{"by": "ann"}]
            await sup.stop()
        finally:
            await a.close()
            await b.close()
            await broker.close()

    asyncio.run(main())


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast path", "checked path"])
def test_late_joiner_gets_current_values_and_dead_node_tags_turn_uncertain(address, fast_path):
    async def main():
        broker = Broker(address, heartbeat=0.1, dead_after=0.4, fast_path=fast_path)
        await broker.start()
        driver = await node(address, "driver")
        assert driver.transport.fast_path_ready is fast_path
        try:
            driver.publish(
                "tag/line1/plc",
                encode_samples({"line1/p/flow": Sample(3.5, source_time=10.0)}),
            )
            driver.publish(
                "tag/line1/plc", encode_samples({"line1/p/run": Sample(True, source_time=11.0)})
            )
            await until(lambda: len(broker.cache) == 2)
            hmi = await node(address, "hmi")
            store = TagStore()
            bind_store(hmi, store, "tag/line1/#")
            await until(lambda: len(store) == 2)
            assert store.get("line1/p/flow").value == 3.5
            assert store.get("line1/p/run").value is True

            # the driver goes silent (killed): the broker declares it dead
            deaths = []
            hmi.subscribe("$sys/node/+/dead", lambda t, p: deaths.append(p))
            await asyncio.sleep(0.1)
            driver.transport._tasks[0].cancel()  # stop its heartbeat, as if frozen
            await until(lambda: deaths, timeout=5)
            await until(lambda: not store.get("line1/p/flow").quality.is_good)
            flow = store.get("line1/p/flow")
            assert flow.value == 3.5  # never blanked
            assert flow.quality.severity is Severity.UNCERTAIN
            assert flow.quality.reason is Reason.NODE_DEAD
            assert deaths[0]["id"] == driver.transport.node_id
            await hmi.close()
        finally:
            await driver.close()
            await broker.close()

    asyncio.run(main())


def test_broker_restart_nodes_reconnect_resubscribe_and_resync(address):
    async def main():
        broker = Broker(address, heartbeat=0.1)
        await broker.start()
        driver = await node(address, "driver")
        hmi = await node(address, "hmi")
        store = TagStore()
        bind_store(hmi, store, "tag/#")
        try:
            await asyncio.sleep(0.1)
            # a static tag, published once, then only the tag that changes
            driver.publish("tag/a/plc", encode_samples({"a/p/mode": Sample("auto")}))
            driver.publish("tag/a/plc", encode_samples({"a/p/x": Sample(1.0)}))
            await until(lambda: store.get("a/p/x") and store.get("a/p/x").value == 1.0)
            first_id = broker.id

            await broker.close()
            lost = Quality.bad(Reason.NO_COMMUNICATION)
            store.degrade(["a/p/x", "a/p/mode"], lost, 0.0)
            broker = Broker(address, heartbeat=0.1)
            await broker.start()
            # no node restarted: the new broker's cache is refilled by the driver and
            # the hmi node gets the value again without anybody publishing anew
            await until(lambda: hmi.transport.broker_id == broker.id != first_id, timeout=8)
            await until(lambda: store.get("a/p/x").quality.is_good, timeout=8)
            await until(lambda: store.get("a/p/mode").quality.is_good)
            assert store.get("a/p/x").value == 1.0
            assert store.get("a/p/mode").value == "auto"
            # and live traffic flows again
            driver.publish("tag/a/plc", encode_samples({"a/p/x": Sample(2.0)}))
            await until(lambda: store.get("a/p/x").value == 2.0)
        finally:
            await driver.close()
            await hmi.close()
            await broker.close()

    asyncio.run(main())


@pytest.mark.parametrize("streams", [True, False], ids=["stream", "router"])
def test_rpc_goes_direct_after_the_brokers_route_and_falls_back_when_the_target_moves(
    address, streams, monkeypatch
):
    if streams and not sys.platform.startswith("linux"):
        pytest.skip("stream endpoints are abstract Unix sockets (Linux)")
    if not streams:  # callers that dial only ZeroMQ endpoints (a client of the protocol)
        monkeypatch.setattr(NodeRpc, "dials_streams", property(lambda self: False))

    def endpoint(of):
        return of.transport.rpc.stream_endpoint if streams else of.transport.rpc.endpoint

    async def main():
        broker = Broker(address, heartbeat=0.1)
        await broker.start()
        a = await node(address, "a")
        b = await node(address, "b")
        c = await node(address, "c")
        try:
            sup_b = Supervisor(b)
            await sup_b.start(Pump())
            await asyncio.sleep(0.05)
            assert await a.call("pump1", "speed", 1) == 1450  # through the broker
            await until(lambda: "pump1" in a.transport.rpc.routes)
            assert a.transport.rpc.routes["pump1"].partition("#")[0] == endpoint(b)
            relayed = broker.stats.drops.total(), b.transport.drops.total()
            for i in range(20):  # direct once connected (the broker is no longer asked)
                assert await a.call("pump1", "speed", i) == 1450 * i
            with pytest.raises(RemoteError) as err:
                await a.call("pump1", "broken")
            assert err.value.remote_type == "ValueError"
            assert a.transport.rpc.direct_connections == 1
            assert (broker.stats.drops.total(), b.transport.drops.total()) == relayed

            await sup_b.stop()  # the target moves to node c
            sup_c = Supervisor(c)
            await sup_c.start(Pump())
            await asyncio.sleep(0.05)
            with pytest.raises(RemoteError) as err:  # b answers directly: not here any more
                await a.call("pump1", "speed", 1)
            assert err.value.remote_type == "LookupError"
            assert "pump1" not in a.transport.rpc.routes
            assert await a.call("pump1", "speed", 2) == 2900  # through the broker, to c
            await until(
                lambda: a.transport.rpc.routes.get("pump1", "").partition("#")[0] == endpoint(c)
            )
            assert await a.call("pump1", "speed", 3) == 4350
            await sup_c.stop()
        finally:
            await a.close()
            await b.close()
            await c.close()
            await broker.close()

    asyncio.run(main())


def test_rpc_timeouts_of_any_length_expire_on_time_among_many_calls(address):
    """Every call in flight shares one timer: a short timeout after long ones still fires
    on time, and thousands of answered calls leave no pile of deadlines behind."""

    async def main():
        broker = Broker(address, heartbeat=0.1)
        await broker.start()
        a = await node(address, "a")
        b = await node(address, "b")
        try:
            sup = Supervisor(b)
            await sup.start(Pump())
            await asyncio.sleep(0.05)
            for _ in range(30):  # thousands of answered calls, 100 at a time
                await asyncio.gather(*(a.call("pump1", "speed", 1) for _ in range(100)))
            assert len(a.transport.rpc._deadlines) < 2 * 100 + 1100
            loop = asyncio.get_running_loop()
            long = asyncio.ensure_future(a.call("pump1", "slow", 0.6, timeout=5.0))
            started = loop.time()
            with pytest.raises(RpcTimeout):
                await a.call("pump1", "slow", 5, timeout=0.1)
            assert loop.time() - started < 0.5
            with pytest.raises(RpcTimeout):
                await a.call("pump1", "slow", 5, timeout=0.05)
            assert await long == 0.6  # the long one was not expired with them
            await sup.stop()
        finally:
            await a.close()
            await b.close()
            await broker.close()

    asyncio.run(main())


def test_publications_take_the_fast_path_and_the_broker_still_caches_and_counts(address):
    async def main():
        broker = Broker(address, heartbeat=0.1)
        await broker.start()
        driver = await node(address, "driver")
        hmi = await node(address, "hmi")
        checked = await node(address, "checked", fast_path=False)
        try:
            assert broker.fast_endpoint.startswith("tcp://127.0.0.1:")
            assert driver.transport.fast_path_ready
            assert not checked.transport.fast_path_ready
            store = TagStore()
            bind_store(hmi, store, "tag/#")
            await asyncio.sleep(0.1)
            for i in range(200):
                driver.publish("tag/line1/plc", encode_samples({"line1/p/x": Sample(float(i))}))
            checked.publish("tag/line2/plc", encode_samples({"line2/p/y": Sample(7.0)}))
            await until(lambda: store.get("line1/p/x").value == 199.0)
            await until(lambda: store.get("line2/p/y").value == 7.0)
            # behind the proxy, the broker saw every publication of both paths
            await until(lambda: broker.stats.topic_msgs[b"tag/line1/plc"] == 200)
            await until(lambda: broker.stats.topic_msgs[b"tag/line2/plc"] == 1)
            assert broker.stats.gaps == 0
            assert broker.ledger.senders[driver.transport.node_id].messages >= 200
            late = await node(address, "late")
            late_store = TagStore()
            bind_store(late, late_store, "tag/#")
            await until(lambda: late_store.get("line1/p/x").value == 199.0)
            assert late_store.get("line2/p/y").value == 7.0
            await late.close()
        finally:
            for bus in (driver, hmi, checked):
                await bus.close()
            await broker.close()

    asyncio.run(main())


def test_malformed_frames_on_the_fast_path_are_counted_by_the_broker_and_dropped_by_nodes(
    address,
):
    """Nothing checks a publication before the proxy forwards it: the broker counts what is
    malformed (behind it), every receiver drops it, and later publications still arrive."""

    async def main():
        broker = Broker(address, heartbeat=0.1)
        await broker.start()
        hmi = await node(address, "hmi")
        got = []
        hmi.subscribe("tag/#", lambda t, p: got.append(p))
        # The subscription is active at the broker (its probe came back, the snapshot is
        # answered): from here every publication reaches the node. Without this wait an
        # early value can be missed and only its newer successor come in the snapshot.
        resync = hmi.transport.resync
        await until(lambda: not resync.probes and not resync.asked)
        ctx = zmq.Context()
        rogue = ctx.socket(zmq.XPUB)
        rogue.linger = 0
        rogue.connect(broker.fast_endpoint)
        try:
            assert rogue.poll(5000)  # the broker's subscription to everything
            assert rogue.recv() == b"\x01"
            seq = iter(range(1, 100))

            def valid(value):
                header = pack_header(Kind.PUB, "rogue", next(seq), time.time())
                return [b"tag/x", header, msgpack.packb([["x/v", value, 0, 1.0]])]

            rogue.send_multipart(valid(1))
            rogue.send_multipart([b"tag/x", b"too", b"many", b"frames"])
            rogue.send_multipart(valid(2))
            rogue.send_multipart([b"tag/x", b"\xc1garbage", msgpack.packb(3)])
            rogue.send_multipart(valid(4))
            rogue.send_multipart([b"tag/x", pack_header(Kind.PUB, "rogue", 50, 0.0), b"\xc1"])
            rogue.send_multipart(valid(5))
            rogue.send_multipart([b"tag/x", b"short"])  # may take the next one with it
            rogue.send_multipart(valid(6))
            for value in range(7, 10):
                rogue.send_multipart(valid(value))
            await until(lambda: got and got[-1] == [["x/v", 9, 0, 1.0]])
            await asyncio.sleep(0.2)
            values = [batch[0][1] for batch in got]
            # every valid one arrives, in order (the message after the short one went with
            # it), and a snapshot (the subscription's, or the resync after that gap) never
            # leaves an older value behind a newer one: the last one stays the newest
            rest = iter(values)
            assert all(v in rest for v in (1, 2, 4, 5, 7, 8, 9))  # in this order
            assert 3 not in values
            # 6 went with the short message; the resync after that gap brings it back when
            # the broker's cache had it and not 7 yet (seen under load): never after 7
            assert 6 not in values or values.index(6) < values.index(7)
            assert values[-1] == 9
            drops = hmi.transport.drops
            assert drops["frame_count"] >= 2
            assert drops["header_msgpack"] == 1
            assert drops["payload_msgpack"] == 1
            await until(lambda: broker.stats.drops["header_msgpack"] == 1)
            assert broker.stats.drops["frame_count"] >= 2
            assert broker.cache.snapshot("tag/x")  # the valid ones were cached
        finally:
            rogue.close()
            ctx.term()
            await hmi.close()
            await broker.close()

    asyncio.run(main())


class Alarms:
    @expose
    def snapshot(self):
        return []


def test_node_births_and_deaths_name_the_node_its_host_and_its_rpc_targets(address):
    async def main():
        broker = Broker(address, heartbeat=0.1, write_state_file=False)
        await broker.start()
        watcher = await node(address, "watcher")
        events = []

        def on_node(topic, payload):
            if payload["id"] == node_id:  # (not the watcher's own)
                events.append((topic.rsplit("/", 1)[1], payload))

        node_id = "backend-1"
        watcher.subscribe("$sys/node/+/+", on_node)
        await asyncio.sleep(0.1)
        backend = await node(address, "backend", node_id=node_id)
        try:
            host = socket.gethostname()
            await until(lambda: events)
            assert events[0] == (
                "alive",
                {"id": node_id, "name": "backend", "host": host, "targets": []},
            )
            backend.expose("alarms", Alarms())
            backend.expose("audit", Alarms())
            await until(lambda: "audit" in broker.targets)
            backend.transport._tasks[0].cancel()  # its heartbeat stops, as if frozen
            await until(lambda: events[-1][0] == "dead")
            assert events[-1][1] == {
                "id": node_id,
                "name": "backend",
                "host": host,
                "targets": ["alarms", "audit"],  # what it served until then (withdrawn now)
                "why": "silent",
            }
            assert "alarms" not in broker.targets
            # heard again: alive, with the targets given back
            backend.transport.session._beat()
            await until(lambda: events[-1][0] == "alive")
            assert events[-1][1]["targets"] == ["alarms", "audit"]
            assert events[-1][1]["name"] == "backend"
            # a clean stop withdraws the targets before the BYE: still a server gone
            backend.unexpose("alarms")
            backend.unexpose("audit")
            await until(lambda: "audit" not in broker.targets)
            await backend.close()
            await until(lambda: events[-1][0] == "dead")
            assert events[-1][1]["targets"] == ["alarms", "audit"]
        finally:
            await backend.close()
            await watcher.close()
            await broker.close()

    asyncio.run(main())
