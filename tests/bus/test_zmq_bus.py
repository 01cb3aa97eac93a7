"""Nodes through a real broker on 127.0.0.1: pub/sub, RPC, late join, death, restart."""

from __future__ import annotations

import asyncio

import pytest

from hmi.bus import Actor, Bus, RemoteError, RpcTimeout, Supervisor, bind_store, expose
from hmi.bus.broker import Broker
from hmi.bus.samples import encode_samples
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
    return await Bus.connect(address, name=name, **kw)


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


def test_late_joiner_gets_current_values_and_dead_node_tags_turn_uncertain(address):
    async def main():
        broker = Broker(address, heartbeat=0.1, dead_after=0.4)
        await broker.start()
        driver = await node(address, "driver")
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
            driver.publish("tag/a/plc", encode_samples({"a/p/x": Sample(1.0)}))
            await until(lambda: store.get("a/p/x").value == 1.0)
            first_id = broker.id

            await broker.close()
            store.degrade(["a/p/x"], Quality.bad(Reason.NO_COMMUNICATION), 0.0)
            broker = Broker(address, heartbeat=0.1)
            await broker.start()
            # no node restarted: the new broker's cache is refilled by the driver and
            # the hmi node gets the value again without anybody publishing anew
            await until(lambda: hmi.transport.broker_id == broker.id != first_id, timeout=8)
            await until(lambda: store.get("a/p/x").quality.is_good, timeout=8)
            assert store.get("a/p/x").value == 1.0
            # and live traffic flows again
            driver.publish("tag/a/plc", encode_samples({"a/p/x": Sample(2.0)}))
            await until(lambda: store.get("a/p/x").value == 2.0)
        finally:
            await driver.close()
            await hmi.close()
            await broker.close()

    asyncio.run(main())


def test_rpc_goes_direct_after_the_brokers_route_and_falls_back_when_the_target_moves(address):
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
            assert a.transport.rpc.routes["pump1"] == b.transport.rpc.endpoint
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
            await until(lambda: a.transport.rpc.routes.get("pump1") == c.transport.rpc.endpoint)
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
