"""Bounded memory on the network side (issue 15, item 4; docs/bus-protocol.md, "Bounds").

A flood of new topics fills the broker's last-value cache to its limit and no further;
the topics of a publisher gone are forgotten after ``forget_after``; fake nodes made by a
fuzzer are forgotten, and a client that never says hello is not alive once silent for
its limit; sequence numbers, pending calls, RPC targets, the roster and a subscriber's
own sequence numbers are bounded. One test floods a real ``hmi broker`` process and
watches its RSS.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import msgpack
import psutil
import pytest
import zmq

from hmi.bus import Bus
from hmi.bus.broker import Broker, roster
from hmi.bus.broker.doors import PendingCalls
from hmi.bus.broker.ledger import MAX_SEQS
from hmi.bus.broker.lvc import LastValueCache
from hmi.bus.net.auth import ClientRule, Policy
from hmi.bus.net.transport import ZmqTransport
from hmi.bus.wire.address import BrokerAddress
from hmi.bus.wire.frames import Kind, pack_header
from tests.bus.conftest import free_port_pair

T = 1.7e9
PACK = msgpack.Packer()


def tag_message(topic: str, sender: str = "flooder", seq: int = 1, value: Any = 1.0) -> list[bytes]:
    return [
        topic.encode(),
        pack_header(Kind.PUB, sender, seq, T),
        PACK.pack([[f"{topic}/v", value, 0, T]]),
    ]


def control(kind: Kind, topic: str, payload: Any, sender: str) -> list[bytes]:
    return [topic.encode(), pack_header(kind, sender, 0, T), PACK.pack(payload)]


class Sink:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def __call__(self, *args: Any) -> bool:
        self.sent.append(args)
        return True


def quiet_broker(**options: Any) -> Broker:
    """A broker without sockets (what it would send is kept by sinks)."""
    broker = Broker("tcp://127.0.0.1:1", write_state_file=False, **options)
    broker._forward = Sink()  # type: ignore[method-assign]
    broker._route = Sink()  # type: ignore[method-assign]
    return broker


# -- the last-value cache -------------------------------------------------------------------
def test_a_flood_of_new_topics_fills_the_cache_to_its_limit_and_no_further() -> None:
    """200,000 new topics on the tap (the fast path) against a limit of 1,000: the cache
    keeps the first 1,000 and their new values, counts the others, and what the broker
    holds of the flood stays small (the issue's 2M topics took 468 MB)."""
    broker = quiet_broker(max_cache_entries=1_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for start in range(0, 200_000, 2_000):
            batch = [tag_message(f"tag/flood/{i}") for i in range(start, start + 2_000)]
            broker.ledger.record_read(batch, 0.0)
            broker.stats.roll(1.0)
        assert len(broker.cache) == 1_000 and broker.cache.topics == 1_000
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert broker.cache.refused == 199_000
    assert held < 40e6, f"{held / 1e6:.1f} MB held"  # (sequence numbers: at most MAX_SEQS)
    assert len(broker.ledger._seqs) <= MAX_SEQS
    assert len(broker.stats.topic_msgs) <= 5_001 and len(broker.stats.rates) <= 5_001
    # the cached topics still take their new values
    broker.ledger.record_read([tag_message("tag/flood/7", seq=2, value=42.0)], 0.0)
    assert dict(broker.cache.snapshot("tag/flood/7"))["tag/flood/7"][0][1] == 42.0


def test_the_checked_path_fills_the_cache_to_its_limit_too() -> None:
    rule = ClientRule("flooder", "KEY", ("tag/",))
    broker = quiet_broker(max_cache_entries=100, policy=Policy([rule]))
    for start in range(0, 5_000, 500):
        batch = [
            [b"flooder", *tag_message(f"tag/f/{i}", seq=i + 1), "KEY"]
            for i in range(start, start + 500)
        ]
        broker.front.handle(batch)
    assert len(broker.cache) == 100 and broker.cache.refused == 4_900
    assert broker.stats.messages == 5_000


def test_a_full_cache_takes_no_new_tag_but_the_new_values_of_its_own() -> None:
    cache = LastValueCache(max_entries=3)
    cache.add("tag/a", "n1", PACK.pack([["a/1", 1, 0, T], ["a/2", 2, 0, T]]))
    cache.add("tag/a", "n1", PACK.pack([["a/3", 3, 0, T], ["a/4", 4, 0, T], ["a/1", 10, 0, T]]))
    assert len(cache) == 3 and cache.refused == 1
    assert {e[0]: e[1] for e in dict(cache.snapshot("tag/"))["tag/a"]} == {
        "a/1": 10,
        "a/2": 2,
        "a/3": 3,
    }
    cache.add("tag/b", "n1", PACK.pack([["b/1", 1, 0, T]]))  # a new topic: none
    assert cache.topics == 1 and cache.refused == 2
    # a FULL batch replaces the topic's tags: room again, once it is merged (as the broker
    # does at least once per statistics interval)
    cache.add("tag/a", "n1", PACK.pack([["a/9", 9, 0, T]]), full=1)
    assert len(cache) == 1
    cache.add("tag/b", "n1", PACK.pack([["b/1", 1, 0, T]]))
    assert len(cache) == 2 and cache.topics == 2


def test_the_topics_of_a_publisher_gone_are_forgotten_after_forget_after() -> None:
    cache = LastValueCache()
    cache.add("tag/static", "alive-node", PACK.pack([["s", 1, 0, T]]), now=0.0)
    cache.add("tag/gone/1", "gone-node", PACK.pack([["g1", 1, 0, T]]), now=0.0)
    cache.add("tag/gone/2", "gone-node", PACK.pack([["g2", 1, 0, T]]), now=5.0)
    cache.add("tag/moved", "gone-node", PACK.pack([["m", 1, 0, T]]), now=0.0)
    cache.add("tag/moved", "alive-node", PACK.pack([["m", 2, 0, T]]), now=1.0)  # now its

    def alive(sender: str) -> bool:
        return sender == "alive-node"

    assert cache.forget_gone(60.0, alive, after=60.0) == 0  # gone-node published at 5 s
    assert cache.forget_gone(65.1, alive, after=60.0) == 2
    assert sorted(topic for topic, _ in cache.snapshot("tag/")) == ["tag/moved", "tag/static"]
    assert len(cache) == 2 and cache.forgotten == 2
    # a live node's static values stay, however old
    assert cache.forget_gone(1e6, alive, after=60.0) == 0


# -- nodes ----------------------------------------------------------------------------------
def test_fuzz_made_fake_nodes_are_forgotten() -> None:
    """2,000 routing ids, each with a few random messages (half of them a hello): once
    silent, those that said hello are declared dead and those that did not are no longer
    alive; after forget_after all are forgotten, with their cached topics, sequence
    numbers and pending calls, and the broker's numbers of its notices about them."""
    broker = quiet_broker(dead_after=3.0, forget_after=10.0)
    rng = random.Random(15)
    hello = {"name": "fake", "pid": 1, "host": "h", "targets": [], "heartbeat": 1.0}
    broker.now = now = 100.0
    for i in range(2_000):
        who = f"fake-{i}"
        if i % 2:
            broker._on_front([who.encode(), *control(Kind.HELLO, "$sys/broker", hello, who)], "")
        for seq in range(rng.randint(1, 4)):
            topic = f"tag/fake/{i}/{seq}"
            broker._on_front([who.encode(), *tag_message(topic, who, seq + 1)], "")
        broker._on_front(
            [who.encode(), *control(Kind.RPC_REQ, "rpc/nobody", [1, "m", [], {}], who)], ""
        )
    assert len(broker.nodes) == 2_000 and broker.cache.topics > 2_000
    broker._watch(now + 1.0)
    assert all(node.alive for node in broker.nodes.values())
    broker._watch(now + 3.5)  # silent for longer than dead_after
    assert not any(node.alive for node in broker.nodes.values())
    dead = [args for args in broker._forward.sent if args[0][0].endswith(b"/dead")]
    assert len(dead) == 1_000  # only those that said hello were announced, and dead
    broker._forget_gone(now + 9.0)
    assert len(broker.nodes) == 2_000  # not yet
    broker._forget_gone(now + 10.5)
    assert not broker.nodes and not broker.ledger.senders
    assert broker.cache.topics == 0 and len(broker.cache) == 0
    assert not broker.ledger._seqs
    assert not [t for t in broker._my_seq if t.startswith("$sys/node/")]
    assert broker.forgotten == 2_000
    report = broker.stats  # (the next $sys/stats lists no node)
    assert report.messages > 0


def test_a_node_heard_again_before_it_is_forgotten_is_kept() -> None:
    broker = quiet_broker(dead_after=3.0, forget_after=10.0)
    broker.now = 0.0
    broker._on_front([b"c", *control(Kind.SNAPSHOT_REQ, "$sys/snapshot", "tag/", "c")], "")
    broker._watch(4.0)
    assert not broker.nodes[b"c"].alive
    broker.now = 8.0
    broker._on_front([b"c", *control(Kind.SNAPSHOT_REQ, "$sys/snapshot", "tag/", "c")], "")
    assert broker.nodes[b"c"].alive  # (no hello: alive again while it talks)
    broker._forget_gone(15.0)
    assert b"c" in broker.nodes


def test_a_client_that_never_says_hello_is_not_alive_after_the_dead_after_time() -> None:
    """A real broker, a raw DEALER that only asks for snapshots (HELLO and HEARTBEAT are
    optional): alive in $sys/stats while it talks, not alive once silent for dead_after,
    gone from $sys/stats after forget_after."""

    async def main() -> None:
        address = f"tcp://127.0.0.1:{free_port_pair()}"
        broker = Broker(
            address,
            write_state_file=False,
            heartbeat=0.05,
            dead_after=0.3,
            forget_after=0.8,
            stats_interval=0.05,
        )
        await broker.start()
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        client = ctx.socket(zmq.DEALER)
        client.routing_id = b"mute"
        client.connect(broker.address.front)
        try:

            def listed() -> dict[str, Any]:
                return {n["id"]: n for n in broker.last_report.get("nodes", [])}

            client.send_multipart(control(Kind.SNAPSHOT_REQ, "$sys/snapshot", "tag/", "mute"))
            began = time.monotonic()
            await until(lambda: listed().get("mute", {}).get("alive") is True)
            await until(lambda: listed().get("mute", {}).get("alive") is False)
            assert time.monotonic() - began >= 0.3
            await until(lambda: "mute" not in listed())
            assert time.monotonic() - began >= 0.8
            assert broker.forgotten == 1
        finally:
            client.close(0)
            ctx.term()
            await broker.close()

    asyncio.run(main())


def test_the_roster_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster, "MAX_NODES", 50)
    broker = quiet_broker(dead_after=3.0)
    broker.now = 0.0
    for i in range(60):
        who = f"n{i}".encode()
        broker._on_front(
            [who, *control(Kind.SNAPSHOT_REQ, "$sys/snapshot", "tag/", who.decode())], ""
        )
    assert len(broker.nodes) == 50 and broker.stats.drops["nodes_full"] == 10
    broker._watch(5.0)  # all silent: no longer alive
    broker.now = 6.0
    broker._on_front([b"new", *control(Kind.SNAPSHOT_REQ, "$sys/snapshot", "tag/", "new")], "")
    assert b"new" in broker.nodes and len(broker.nodes) == 50  # in place of the oldest
    assert b"n0" not in broker.nodes and broker.forgotten == 1


def test_a_node_serves_at_most_max_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster, "MAX_TARGETS", 5)
    broker = quiet_broker()
    for i in range(8):
        broker._on_front([b"n", *control(Kind.EXPOSE, "$sys/broker", [f"t{i}", True], "n")], "")
    assert sorted(broker.targets) == [f"t{i}" for i in range(5)]
    assert broker.stats.refusals["targets"] == 3


def test_requests_waiting_for_replies_are_bounded_for_all_callers() -> None:
    calls = PendingCalls(most=50, total=100)
    for i in range(1_000):
        calls.routed(b"greedy", b"callee", i, 0.0)
        if i % 10 == 0:
            calls.routed(b"modest-%d" % (i // 100), b"callee", i, 0.0)
    assert len(calls) <= 100
    assert calls.answered(b"modest-9", b"callee", 990)  # the others keep theirs
    assert not calls.answered(b"greedy", b"callee", 0)  # the greedy lost its oldest
    assert calls.answered(b"greedy", b"callee", 999)


def test_a_subscriber_keeps_a_bounded_number_of_sequence_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hmi.bus.net import receiver

    monkeypatch.setattr(receiver, "MAX_SEQS", 100)
    bus = Bus.local(name="station")
    transport = ZmqTransport(bus, BrokerAddress.parse("tcp://127.0.0.1:1"), node_id="me")
    got = []
    bus.subscribe("tag/#", lambda topic, payload: got.append(topic))
    for i in range(1_000):
        transport._on_sub(tag_message(f"tag/flood/{i}"))
        assert len(transport.receiver._seqs) <= 100
    assert len(got) == 1_000 and bus.stats.gaps == 0


# -- a real hmi broker, flooded --------------------------------------------------------------
#: what the flooded broker's RSS stays under (MB): during the flood (mostly ZeroMQ's
#: queues, at most at their high-water marks: 100,000 messages into the proxy, 200,000 to
#: the tap), and above its RSS before, once it has caught up
PEAK_MB, KEPT_MB = 450, 100
FLOOD = 500_000


def test_hmi_broker_stays_under_its_memory_bound_in_a_flood_of_new_topics(tmp_path) -> None:
    """500,000 new topics on the fast path of ``hmi broker --max-cache-entries 10000``:
    its cache holds 10,000 tags, and its RSS stays under 450 MB and ends within 100 MB of
    where it began (the issue's broker: 31 -> 499 MB for 2M topics, never released;
    unbounded, 500,000 take it past 700 MB)."""
    port = free_port_pair()
    env = {**os.environ, "HMI_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hmi", "broker", "--address", f"tcp://127.0.0.1:{port}",
         "--max-cache-entries", "10000", "--quiet", "--no-beacon"],
        env=env,
    )  # fmt: skip
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        stats = ctx.socket(zmq.SUB)
        stats.connect(f"tcp://127.0.0.1:{port + 1}")
        stats.subscribe(b"$sys/stats")
        assert stats.poll(20_000), "no statistics from hmi broker"
        stats.recv_multipart()
        broker = psutil.Process(proc.pid)
        start = broker.memory_info().rss
        flood = ctx.socket(zmq.XPUB)
        flood.sndhwm = 0
        flood.connect(f"tcp://127.0.0.1:{port + 2}")  # the fast path (see the welcome)
        assert flood.poll(5_000) and flood.recv() == b"\x01"  # the broker's tap
        peak = start
        header = pack_header(Kind.PUB, "flooder", 1, T)
        for i in range(FLOOD):
            topic = b"tag/flood/%d" % i
            flood.send_multipart([topic, header, PACK.pack([[topic[4:].decode(), 1.0, 0, T]])])
            if i % 50_000 == 0:
                peak = max(peak, broker.memory_info().rss)
        last: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the broker has taken in what it got
            assert stats.poll(5_000)
            report = msgpack.unpackb(stats.recv_multipart()[2])
            peak = max(peak, broker.memory_info().rss)
            if last and report["messages"] == last["messages"]:
                break
            last = report
        assert last["cached_tags"] <= 10_000 and last["drops"]["cache_full"] > 0
        stats.recv_multipart()  # a statistics interval more: freed memory given back
        end = broker.memory_info().rss
        assert peak < PEAK_MB * 1e6, f"peak {peak / 1e6:.0f} MB"
        assert end - start < KEPT_MB * 1e6, f"{start / 1e6:.0f} -> {end / 1e6:.0f} MB"
    finally:
        ctx.destroy(linger=0)
        proc.terminate()
        proc.wait(20)


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
