"""The broker tap's compiled helper (hmi.bus.broker.tapc): the same results as the Python
it replaces, messages of any frame count, and no use of a closed socket."""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from typing import Any

import msgpack
import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st

from hmi.bus.broker import lvc, tapc
from hmi.bus.broker.ledger import Ledger
from hmi.bus.broker.lvc import Layout
from hmi.bus.wire.frames import Kind, pack_header

try:
    from hmi.bus.broker import _tapc
except ImportError:  # built by `make` (setup.py) wherever a C compiler is
    _tapc = None

needs_helper = pytest.mark.skipif(
    _tapc is None and shutil.which("cc") is None, reason="no C compiler: the tap runs in Python"
)


@needs_helper
def test_the_helper_is_built_and_bound_where_a_compiler_is():
    # a build that silently fell back to Python would pass every other test, slower
    assert _tapc is not None, "hmi.bus.broker._tapc was not built: run `make` again"
    assert tapc.receiver_available()


@needs_helper
@given(st.binary(max_size=600), st.integers(min_value=0), st.randoms(use_true_random=False))
def test_the_layout_test_in_c_answers_as_python_integers_do(payload, seed, rng):
    assert _tapc is not None
    size = len(payload)
    free = rng.getrandbits(8 * size) if size else 0
    structure = int.from_bytes(payload, "little") | free
    layout = Layout.__new__(Layout)  # the parts alone, as Layout.of makes them
    layout.size, layout.free, layout.structure = size, free, structure
    candidates = [payload, payload[:-1], payload + b"\0"]
    if size:
        flipped = bytearray(payload)
        flipped[seed % size] ^= 1 << (seed % 8)
        candidates.append(bytes(flipped))
    parts = free.to_bytes(size, "little"), structure.to_bytes(size, "little")
    for candidate in candidates:
        assert _tapc.covers(*parts, candidate) == Layout._matches(layout, candidate)


@pytest.mark.parametrize("helper", [True, False], ids=["c", "python"])
def test_a_layout_answers_the_same_with_and_without_the_helper(monkeypatch, helper):
    if helper and _tapc is None:
        pytest.skip("the helper is not built")
    if not helper:
        monkeypatch.setattr(lvc, "_covers_c", None)
        monkeypatch.setattr(lvc, "_covered_run_c", None)
        monkeypatch.setattr(lvc, "_collapse_c", None)
    entries = (("a/x", 1.5, 0, 10.0), ("a/y", 200, 0, 10.0))
    layout = Layout.of(msgpack.packb(entries), entries)
    assert layout is not None
    assert layout.matches(msgpack.packb([["a/x", -7.25, 0, 11.0], ["a/y", 255, 0, 12.5]]))
    assert not layout.matches(msgpack.packb([["a/x", 1.5, 0, 10.0], ["a/z", 200, 0, 10.0]]))
    assert not layout.matches(b"")


def _read_tap(
    sent: list[list[bytes]], mine: str = "broker-1", layouts: dict | None = None
) -> list[tuple[Any, ...]]:
    """What the C tap reader hands over for ``sent`` (published on a SUB it reads)."""

    async def main() -> list[tuple[Any, ...]]:
        got: list[tuple[Any, ...]] = []
        ctx = zmq.Context()
        pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
        for sock in (pub, sub):
            sock.sndhwm = sock.rcvhwm = 0
        try:
            pub.bind("inproc://tapc-test")
            sub.connect("inproc://tapc-test")
            sub.subscribe(b"")
            time.sleep(0.05)  # inproc subscriptions are immediate; the pipe is not
            for message in sent:
                pub.send_multipart(message)
            reader = tapc.TapReader(sub, got.extend, period=0.001, mine=mine, layouts=layouts or {})
            reader.drain()
            reader.close()
            sub.close()
            with pytest.raises(zmq.ZMQError):  # never the freed socket
                reader.receive_batch(10)
        finally:
            pub.close()
            sub.close()
            ctx.term()
        return got

    return asyncio.run(main())


def _pub(sender: str, seq: int, flags: int = 0) -> bytes:
    return pack_header(Kind.PUB, sender, seq, 1.7e9, flags)


@needs_helper
@pytest.mark.timeout(20)
def test_the_tap_reader_hands_over_runs_and_the_odd_messages_as_they_came():
    sent = [
        [b"tag/a", _pub("n1", 1), b"p" * 5000],
        [b"tag/a", _pub("n1", 2, 1), b"p2"],
        [b"tag/a", _pub("broker-1", 7), b"the broker's own"],  # left out, run goes on
        [b"tag/a", _pub("n1", 5), b"p5"],  # a gap within the run
        [b"one frame"],
        [b"tag/b", b"h2", b"", b"a fourth frame"],
        [b"tag/c", b"not a header", b"x"],
        [b"tag/c", pack_header(Kind.HELLO, "n1", 1, 1.7e9), b"x"],  # not a publication
        [b"tag/d", _pub("n2", 9), b"p4"],
    ]
    got = _read_tap(sent)
    assert got == [
        (b"tag/a", "n1", 1, 5, 1, 3, 5004, [(b"p" * 5000, 0), (b"p2", 1), (b"p5", 0)], 0),
        (),
        (),
        tuple(sent[6]),
        tuple(sent[7]),
        (b"tag/d", "n2", 9, 9, 0, 1, 2, [(b"p4", 0)], 0),
    ]


def _stream(rng: random.Random, n: int) -> list[list[bytes]]:
    """Messages as a tap sees them: runs of publications, now and then something else."""
    messages: list[list[bytes]] = []
    seqs: dict[tuple[str, bytes], int] = {}
    for _ in range(n):
        if not messages or rng.random() < 0.2:  # runs: the same sender and topic a while
            sender = rng.choice(["n1", "n2", "broker-1", "é-node"])
            topic = rng.choice([b"tag/a", b"tag/b", b"evt/x", b"$probe/n1/1/", b"tag/\xff", b""])
        seq = seqs.get((sender, topic), 0) + (1 if rng.random() < 0.95 else rng.randrange(2, 9))
        seqs[(sender, topic)] = seq
        # (the same tags scan after scan, now and then another: moot batches, and others)
        name = f"{topic!r}/t{0 if rng.random() < 0.8 else rng.randrange(5)}"
        payload = msgpack.packb([[name, rng.random(), 0, 1.0]])
        header = pack_header(Kind.PUB, sender, seq, 1.7e9, rng.choice([0, 0, 1]))
        odd = rng.random()
        if odd < 0.03:
            header = header[:-1]  # cut short
        elif odd < 0.05:
            header = pack_header(rng.choice([Kind.HELLO, Kind.BYE]), sender, seq, 1.0)
        elif odd < 0.06:
            messages.append([topic])
            continue
        elif odd < 0.07:
            header = msgpack.packb([1, int(Kind.PUB), sender, -seq, 1.0, 0])  # negative seq
        messages.append([topic, header, payload])
    return messages


@needs_helper
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.timeout(60)
def test_books_kept_from_runs_are_the_books_kept_message_by_message(seed):
    rng = random.Random(seed)
    sent = _stream(rng, 3000)
    by_runs, by_messages = Ledger("broker-1"), Ledger("broker-1")
    # the usual layouts of the topics, as a cache that saw the stream knows them: with them
    # the reader leaves the batches a newer neighbour makes moot in libzmq's messages
    learnt = Ledger("broker-1")
    learnt.record_read([tuple(m) for m in sent], 1.0)
    learnt.cache.merge()
    assert learnt.cache.usual
    items = _read_tap(sent, layouts=learnt.cache.usual)
    assert len(items) < len(sent)  # runs were found
    assert sum(item[8] for item in items if len(item) == 9)  # and moot batches left out
    for i in range(0, len(items), 7):
        by_runs.record_read(items[i : i + 7], 1.0)
    by_messages.record_read([tuple(m) for m in sent], 1.0)
    for ledger in (by_runs, by_messages):
        ledger.cache.merge()
    assert by_runs.stats.drops == by_messages.stats.drops
    assert by_runs.stats.gaps == by_messages.stats.gaps
    assert by_runs.last_seq("n1", b"tag/a") == by_messages.last_seq("n1", b"tag/a")

    def values(ledger: Ledger) -> dict[str, dict[str, Any]]:
        return {t: {e[0]: e for e in entries} for t, entries in ledger.cache.snapshot("")}

    assert values(by_runs) == values(by_messages)
    assert by_runs.stats.messages == by_messages.stats.messages


def _batch(names: list[str], value: float) -> bytes:
    return msgpack.packb([[name, value, 0, 1.7e9 + value] for name in names])


@needs_helper
def test_only_the_newest_of_neighbours_with_the_usual_layout_waits():
    cache = lvc.LastValueCache()
    for i in range(lvc.MERGE_AFTER):  # the first merge learns the layout
        cache.add("tag/a", "d", _batch(["a/x", "a/y", "a/z"], float(i)))
    for i in range(1000):
        cache.add("tag/a", "d", _batch(["a/x", "a/y"], float(i)))  # a new layout: learnt...
        if i == 0:
            cache.merge()
    last = _batch(["a/x", "a/y"], 999.0)
    assert cache.pending_bytes == len(last)  # ...then one batch waits, however many came
    # an odd FULL batch between them: its flag goes to the newer one that replaces it
    cache.add("tag/a", "d", _batch(["a/x", "a/y"], 1000.0), full=1)
    cache.add("tag/a", "d", _batch(["a/x", "a/y"], 1001.0))
    assert cache.pending_bytes == len(last)
    [(_, entries)] = cache.snapshot("tag/")
    assert entries == [("a/x", 1001.0, 0, 1.7e9 + 1001.0), ("a/y", 1001.0, 0, 1.7e9 + 1001.0)]


@needs_helper
@pytest.mark.parametrize("keyed", [False, True])
@pytest.mark.timeout(20)
def test_the_front_reader_in_c_hands_over_what_the_python_one_does(keyed):
    from hmi.bus.net.zmqio import RouterReader

    sent = [
        [b"tag/a", b"h1", b"p" * 5000],
        [b"one frame"],
        [b"tag/b", b"h2", b"", b"a fourth frame"],
        [b"tag/d", b"h4", b"p4"],
    ]

    async def read(kind: type[RouterReader]) -> list[tuple[Any, ...]]:
        got: list[tuple[Any, ...]] = []
        ctx = zmq.Context()
        router, dealer = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
        try:
            router.bind("inproc://front-test")
            dealer.routing_id = b"node-1"
            dealer.connect("inproc://front-test")
            for message in sent:
                dealer.send_multipart(message)
            reader = kind(router, lambda ms: got.extend(map(tuple, ms)), keyed=keyed)
            while len(got) < len(sent):
                reader.drain()
                await asyncio.sleep(0.001)
            reader.close()
        finally:
            router.close()
            dealer.close()
            ctx.term()
        return got

    ours = asyncio.run(read(tapc.FrontReader))
    if not keyed:  # (pyzmq's reader raises for a key that is not there: no ZAP here)
        assert ours == asyncio.run(read(RouterReader))
    key = "?" if keyed else ""
    assert ours[0] == (b"node-1", b"tag/a", b"h1", b"p" * 5000, key)
    assert ours[1:] == [(), (), (b"node-1", b"tag/d", b"h4", b"p4", key)]
