"""Heartbeats of different intervals: the broker judges each node by the interval the node
told it, and a node judges the broker by the broker's (real sockets on 127.0.0.1)."""

from __future__ import annotations

import asyncio

import pytest

from hmi.bus import bind_store, connect
from hmi.bus.broker import Broker
from hmi.bus.net.session import BROKER_LOST
from hmi.bus.wire.frames import DEAD_AFTER_BEATS
from hmi.bus.wire.samples import encode_samples
from hmi.cli import build_parser
from hmi.core import Reason, Sample, TagStore

from .test_zmq_bus import until


def test_a_node_beating_slower_than_the_broker_is_not_taken_for_dead(address):
    async def main():
        broker = Broker(address, heartbeat=0.1, stats_interval=0.2, write_state_file=False)
        await broker.start()
        slow = await connect(address, name="slow", heartbeat=0.5)  # 5 x the broker's
        fast = await connect(address, name="fast", heartbeat=0.05)
        hmi = await connect(address, name="hmi")  # hmi node's and hmi run's default: 1 s
        deaths, lost = [], []
        hmi.subscribe("$sys/node/+/dead", lambda t, p: deaths.append(p["id"]))
        for bus in (slow, fast, hmi):
            bus.subscribe(BROKER_LOST, lambda t, p: lost.append(t))
        store = TagStore()
        bind_store(hmi, store, "tag/#")
        try:
            slow.publish("tag/slow/plc", encode_samples({"slow/p/x": Sample(1.0)}))
            await until(lambda: store.get("slow/p/x").value == 1.0)
            await asyncio.sleep(1.5)  # many broker heartbeats, three of the slow node's
            assert deaths == [] and lost == []
            assert store.get("slow/p/x").quality.is_good
            # every node is judged by its own interval, as its hello told it
            beats = {n["name"]: n["heartbeat"] for n in broker.last_report["nodes"]}
            assert beats == {"slow": 0.5, "fast": 0.05, "hmi": 1.0}
            assert broker.limit(broker.ledger.senders[slow.transport.node_id]) == 1.75
            # and each node judges the broker by the broker's interval
            assert slow.transport.broker_timeout == DEAD_AFTER_BEATS * 0.1

            # a node that goes silent is dead after DEAD_AFTER_BEATS of its own interval
            loop = asyncio.get_running_loop()
            fast.transport._tasks[0].cancel()  # its heartbeat stops, as if frozen
            silent = loop.time()
            await until(lambda: fast.transport.node_id in deaths, timeout=2)
            assert loop.time() - silent < 1.0  # 3.5 x 0.05 s, checked at that pace
            slow.transport._tasks[0].cancel()
            silent = loop.time()
            await until(lambda: slow.transport.node_id in deaths, timeout=4)
            assert loop.time() - silent > 1.2  # 3.5 x 0.5 s after its last beat, not 0.35 s
            await until(lambda: store.get("slow/p/x").quality.reason is Reason.NODE_DEAD)
        finally:
            for bus in (slow, fast, hmi):
                await bus.close()
            await broker.close()

    asyncio.run(main())


def test_a_node_beating_faster_than_the_broker_does_not_take_it_for_lost(address):
    async def main():
        broker = Broker(address, heartbeat=0.5, write_state_file=False)
        await broker.start()
        node = await connect(address, name="quick", heartbeat=0.05)
        lost = []
        node.subscribe(BROKER_LOST, lambda t, p: lost.append(p))
        try:
            assert node.transport.broker_timeout == DEAD_AFTER_BEATS * 0.5
            await asyncio.sleep(1.6)  # three broker heartbeats, 30 of the node's
            assert lost == []
            assert node.transport.connected.is_set()
        finally:
            await node.close()
            await broker.close()

    asyncio.run(main())


def test_hmi_node_and_hmi_run_take_a_heartbeat_interval():
    parser = build_parser()
    # no option: the deployment takes the project's bus.heartbeat_interval, else 1 s
    assert parser.parse_args(["node", "plant.yaml"]).heartbeat is None
    assert parser.parse_args(["node", "plant.yaml", "--heartbeat", "0.2"]).heartbeat == 0.2
    assert parser.parse_args(["run", "plant.yaml", "--heartbeat", "0.5"]).heartbeat == 0.5
    for wrong in ("0", "-1", "nan"):
        with pytest.raises(SystemExit):
            parser.parse_args(["node", "plant.yaml", "--heartbeat", wrong])
