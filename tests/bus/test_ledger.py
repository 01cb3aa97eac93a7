"""The broker's record of publications (hmi.bus.broker.ledger), without sockets."""

from __future__ import annotations

import random
from typing import Any

import msgpack

from hmi.bus.broker.brokerstats import NodeInfo
from hmi.bus.broker.ledger import Ledger
from hmi.bus.wire.frames import Flag, Kind, pack_header


def stream(rng: random.Random, n: int) -> list[list[bytes]]:
    """Interleaved runs of three senders on three topics, with gaps and FULL batches."""
    seqs: dict[tuple[str, str], int] = {}
    out = []
    sender, topic = "a", "tag/1"
    for i in range(n):
        if rng.random() < 0.2:  # runs, as drivers publish them
            sender = rng.choice(["a", "b", "$broker"])
            topic = rng.choice(["tag/1", "tag/2", "cmd/x"])
        seq = seqs.get((sender, topic), 0) + (2 if rng.random() < 0.05 else 1)
        seqs[(sender, topic)] = seq
        flags = int(Flag.FULL) if rng.random() < 0.02 else 0
        entries = [[f"{topic}/t{rng.randrange(5)}", i, 0, float(i)]]
        header = pack_header(Kind.PUB, sender, seq, 0.0, flags)
        out.append([topic.encode(), header, msgpack.packb(entries)])
    return out


def values(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """What a snapshot of everything says (the order of entries is no part of it)."""
    return {topic: {e[0]: e for e in entries} for topic, entries in ledger.cache.snapshot("tag/")}


def test_reads_in_runs_record_what_one_by_one_records():
    messages = stream(random.Random(7), 5000)
    by_read, one_by_one = Ledger("$broker"), Ledger("$broker")
    for ledger in (by_read, one_by_one):
        ledger.senders["a"] = NodeInfo(b"a", "a")
    rng = random.Random(8)
    i = 0
    while i < len(messages):  # reads of any size
        size = rng.randint(1, 300)
        by_read.record_read(messages[i : i + size], now=float(i))
        i += size
    for topic_b, header_b, payload_b in messages:
        _, _, sender, seq, _, flags = msgpack.unpackb(header_b)
        if sender != "$broker":
            one_by_one.record(topic_b, topic_b.decode(), sender, seq, flags, payload_b)
            if sender == "a":
                one_by_one.senders["a"].messages += 1
    assert by_read.stats.messages == one_by_one.stats.messages
    assert by_read.stats.topic_msgs == one_by_one.stats.topic_msgs
    assert by_read.stats.topic_bytes == one_by_one.stats.topic_bytes
    assert by_read.stats.gaps == one_by_one.stats.gaps > 0
    assert by_read.senders["a"].messages == one_by_one.senders["a"].messages
    assert values(by_read) == values(one_by_one)
    assert len(by_read.cache) == len(one_by_one.cache) > 0
    # and the same publisher owns each topic (its tags turn UNCERTAIN when it dies)
    assert by_read.cache.degrade("b", "b silent") == one_by_one.cache.degrade("b", "b silent")
