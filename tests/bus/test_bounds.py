"""Bounded memory on the network side (issue 15, item 4; docs/bus-protocol.md, "Bounds").

A flood of new topics fills the broker's last-value cache to its limit and no further;
the topics of a publisher gone are forgotten after ``forget_after``; fake nodes made by a
fuzzer are forgotten, and a client that never says hello is never counted alive and is
forgotten once silent; batches waiting for the cache, sequence numbers, pending calls,
RPC targets, the roster and a subscriber's own sequence numbers are bounded. The same
against a real ``hmi broker`` process, its RSS watched: ``test_bounds_process.py``.
"""

from __future__ import annotations

import asyncio
import random
import time
import tracemalloc
from typing import Any

import msgpack
import pytest
import zmq

from hmi.bus import Bus
from hmi.bus.broker import Broker, ledger, lvc, roster
from hmi.bus.broker.doors import PendingCalls
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
def test_a_flood_of_new_topics_fills_the_cache_to_its_limit_and_no_further(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """40,000 new topics on the tap (the fast path) against a limit of 1,000 (and 10,000
    sequence numbers): the cache keeps the first 1,000 and their new values, counts the
    others, and what the broker holds of the flood stays small (the issue's 2M topics took
    468 MB; ``test_bounds_process.py`` floods a real ``hmi broker``)."""
    monkeypatch.setattr(ledger, "MAX_SEQS", 10_000)
    broker = quiet_broker(max_cache_entries=1_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for start in range(0, 40_000, 2_000):
            batch = [tag_message(f"tag/flood/{i}") for i in range(start, start + 2_000)]
            broker.ledger.record_read(batch, 0.0)
            broker.stats.roll(1.0)
        assert len(broker.cache) == 1_000 and broker.cache.topics == 1_000
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert broker.cache.refused == 39_000
    assert held < 8e6, f"{held / 1e6:.1f} MB held"  # (mostly the 10,000 sequence numbers)
    assert len(broker.ledger._seqs) <= 10_000
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


def test_batches_waiting_to_be_merged_are_bounded_in_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Big payloads wait for their merge up to a byte bound per topic and over all topics,
    not only up to MERGE_AFTER batches (256 payloads of 16 MiB would be 4 GiB)."""
    monkeypatch.setattr(lvc, "MERGE_BYTES", 10_000)
    monkeypatch.setattr(lvc, "MAX_PENDING_BYTES", 50_000)
    cache = LastValueCache()
    big = PACK.pack([["a", "x" * 1_000, 0, T]])
    for _ in range(100):  # one topic
        cache.add("tag/one", "n", big)
        assert cache.pending_bytes < 10_000
    for i in range(200):  # many topics, a batch each
        cache.add(f"tag/many/{i}", "n", big)
        assert cache.pending_bytes < 50_000
    assert len(cache) == 201 and cache.pending_bytes == 0
    assert cache.forget_owner("n") == 201 and cache.pending_bytes == 0


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


def test_the_sequence_numbers_of_forgotten_senders_go_in_one_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Forgetting a sender marks it; its numbers go at the next purge (each statistics
    interval), with those of every sender forgotten meanwhile, or at once when many wait."""
    monkeypatch.setattr(ledger, "MAX_FORGETTING", 3)
    book = ledger.Ledger("me")
    for sender in ("a", "b", "c", "d", "e"):
        for seq, topic in enumerate(("tag/x", "tag/y"), 1):
            book.record(topic.encode(), topic, sender, seq, 0, PACK.pack([]))
    book.forget("a")
    book.forget("b")
    assert book.last_seq("a", b"tag/x") == 1  # (not yet)
    book.purge()
    assert book.last_seq("a", b"tag/x") is None and book.last_seq("b", b"tag/y") is None
    assert book.last_seq("c", b"tag/y") == 2
    for sender in ("c", "d", "e"):  # the third makes a purge
        book.forget(sender)
    assert not book._seqs


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


def test_a_client_that_never_says_hello_is_never_counted_alive_and_is_forgotten() -> None:
    """A real broker, a raw DEALER that only asks for snapshots (HELLO and HEARTBEAT are
    optional): listed in $sys/stats while it talks but never `alive` (it promised no
    heartbeat), and gone from $sys/stats forget_after after its last message."""

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
        reports: list[dict[str, Any]] = []
        broker.on_stats = reports.append
        await broker.start()
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        client = ctx.socket(zmq.DEALER)
        client.routing_id = b"mute"
        client.connect(broker.address.front)

        def listed(report: dict[str, Any]) -> dict[str, Any]:
            return {n["id"]: n for n in report.get("nodes", [])}

        try:
            # it talks for five statistics intervals, a request after each report
            for _ in range(5):
                seen = len(reports)
                last = time.monotonic()  # (the broker hears it after this)
                client.send_multipart(control(Kind.SNAPSHOT_REQ, "$sys/snapshot", "tag/", "mute"))
                await until(lambda seen=seen: len(reports) > seen)
            await until(lambda: "mute" in listed(reports[-1]))
            await until(lambda: "mute" not in listed(reports[-1]))
            assert time.monotonic() - last >= 0.8
            assert broker.forgotten == 1
        finally:
            client.close(0)
            ctx.term()
            await broker.close()
        mentions = [listed(r)["mute"] for r in reports if "mute" in listed(r)]
        assert mentions and all(n["alive"] is False and n["hello"] is False for n in mentions)

    asyncio.run(main())


def test_the_roster_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most MAX_NODES nodes: while all are alive a new id is not heard (a flood of them
    is turned away without a look over the roster each); once some are gone, the longest
    gone make room, a tenth of the roster at once."""
    monkeypatch.setattr(roster, "MAX_NODES", 50)
    broker = quiet_broker(dead_after=3.0)

    def ask(who: bytes, now: float) -> None:
        broker.now = now
        request = control(Kind.SNAPSHOT_REQ, "$sys/snapshot", "tag/", who.decode())
        broker._on_front([who, *request], "")

    for i in range(50):
        ask(f"n{i}".encode(), i / 100)
    scans = 0
    make_room = broker.roster._make_room

    def counted() -> bool:
        nonlocal scans
        scans += int(not broker.roster._all_alive)
        return make_room()

    monkeypatch.setattr(broker.roster, "_make_room", counted)
    for i in range(1_000):
        ask(f"flood-{i}".encode(), 1.0)
    assert len(broker.nodes) == 50 and broker.stats.drops["nodes_full"] == 1_000
    assert scans == 1  # (the first found every node alive; the others did not look)
    broker._watch(5.0)  # all silent: no longer alive
    ask(b"new", 6.0)
    assert b"new" in broker.nodes and len(broker.nodes) == 46  # in place of the 5 oldest
    assert not {f"n{i}".encode() for i in range(5)} & set(broker.nodes)
    assert broker.forgotten == 5


def test_one_key_has_a_bounded_number_of_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """With CURVE, routing ids are the client's choice: one admitted key making new ids
    gets MAX_NODES_PER_KEY nodes, the others of its ids are not heard until some of its
    nodes are gone, and other keys are not hindered."""
    monkeypatch.setattr(roster, "MAX_NODES_PER_KEY", 10)
    rules = [ClientRule("fuzzer", "FUZZ", ("tag/",)), ClientRule("plant", "PLANT", ("tag/",))]
    broker = quiet_broker(dead_after=3.0, policy=Policy(rules))

    def ask(who: str, key: str, now: float) -> None:
        broker.now = now
        request = control(Kind.SNAPSHOT_REQ, "$sys/snapshot", "tag/", who)
        broker._on_front([who.encode(), *request], key)

    for i in range(100):
        ask(f"fake-{i}", "FUZZ", i / 1_000)
    assert len(broker.nodes) == 10 and broker.stats.drops["nodes_full"] == 90
    ask("station", "PLANT", 0.5)
    assert b"station" in broker.nodes
    broker._watch(5.0)  # all silent
    ask("fake-new", "FUZZ", 6.0)
    assert b"fake-new" in broker.nodes and b"fake-0" not in broker.nodes  # the oldest went
    assert broker.roster.per_key == {"FUZZ": 10, "PLANT": 1}


def test_a_node_serves_at_most_max_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster, "MAX_TARGETS", 5)
    broker = quiet_broker()
    for i in range(8):
        broker._on_front([b"n", *control(Kind.EXPOSE, "$sys/broker", [f"t{i}", True], "n")], "")
    assert sorted(broker.targets) == [f"t{i}" for i in range(5)]
    assert broker.stats.refusals["targets"] == 3


def test_a_node_waits_for_at_most_max_targets_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Claims of names another live node serves wait, as many as a node may serve."""
    monkeypatch.setattr(roster, "MAX_TARGETS", 5)
    broker = quiet_broker()

    def expose(who: bytes, name: str, on: bool = True) -> None:
        payload = [name, on]
        broker._on_front([who, *control(Kind.EXPOSE, "$sys/broker", payload, who.decode())], "")

    for i in range(5):
        expose(b"owner", f"t{i}")
    for i in range(5):
        expose(b"owner2", f"u{i}")
    for name in [f"t{i}" for i in range(5)] + [f"u{i}" for i in range(5)]:
        expose(b"greedy", name)
    assert broker.roster.waits[b"greedy"] == 5 and broker.stats.refusals["targets"] == 5
    expose(b"owner", "t0", False)  # free: the first waiting gets it
    assert broker.targets["t0"] == b"greedy" and broker.roster.waits[b"greedy"] == 4
    expose(b"greedy", "t1", False)  # gives up a claim
    assert broker.roster.waits[b"greedy"] == 3 and "t1" not in broker.roster.waiting
    broker.roster.leave(broker.nodes[b"greedy"])
    assert not broker.roster.waits and not broker.roster.waiting


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


def test_gaps_on_a_flood_of_topics_ask_for_a_bounded_number_of_snapshots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A gap on a tag/ topic asks for its snapshot; gaps on 1,000 topics make at most
    MAX_GAP_ASKS such requests at once, then one for the subscribed prefix."""
    from hmi.bus.net import receiver

    monkeypatch.setattr(receiver, "MAX_GAP_ASKS", 8)
    bus = Bus.local(name="station")
    transport = ZmqTransport(bus, BrokerAddress.parse("tcp://127.0.0.1:1"), node_id="me")
    asked: list[str] = []
    monkeypatch.setattr(transport.resync, "_request", asked.append)
    bus.subscribe("tag/#", lambda topic, payload: None)
    for i in range(1_000):
        transport._on_sub(tag_message(f"tag/flood/{i}", seq=1))
        transport._on_sub(tag_message(f"tag/flood/{i}", seq=3))  # (2 was lost)
    assert bus.stats.gaps == 1_000
    assert len(asked) == 9 and len(transport.resync.asked) == 9
    assert asked[:8] == [f"tag/flood/{i}" for i in range(8)] and asked[8] in bus.prefixes


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
