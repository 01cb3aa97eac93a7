"""Malformed frames are dropped and counted, never crash broker or node (>= 10,000 cases).

Random mutations of valid messages (seeded, so a failure replays): flipped and inserted
bytes, truncation, wrong frame counts, swapped frames, unknown versions and kinds, huge
payloads. Both receivers are driven directly, without sockets, so 40,000 cases take a
couple of seconds.
"""

from __future__ import annotations

import random

import msgpack

from hmi.bus import Bus
from hmi.bus.broker import Broker
from hmi.bus.net.transport import ZmqTransport
from hmi.bus.wire.address import BrokerAddress
from hmi.bus.wire.frames import MAX_PAYLOAD, Kind, encode, pack_header

CASES = 20_000


def valid_messages() -> list[list[bytes]]:
    t = 1.7e9
    return [
        encode("tag/line1/plc", Kind.PUB, "n1", 1, t, [["line1/p/x", 1.5, 0, t]]),
        encode("tag/line1/plc", Kind.PUB, "n1", 2, t, [["a/b", True, [1, "node dead", ""], t]]),
        encode("cmd/line1/p/sp", Kind.PUB, "n1", 1, t, {"id": "c", "tag": "line1/p/sp"}),
        encode("rpc/pump", Kind.RPC_REQ, "n1", 0, t, [1, "speed", [1], {}]),
        encode("rpc/n1", Kind.RPC_REP, "n2", 0, t, [1, True, 3]),
        encode("$sys/broker", Kind.HELLO, "n1", 0, t, {"name": "x", "pid": 1, "targets": []}),
        encode("$sys/broker", Kind.HELLO, "$broker", 0, t, {"id": "b1"}),
        encode("$sys/snapshot", Kind.SNAPSHOT_REQ, "n1", 0, t, "tag/"),
        encode("$sys/broker", Kind.EXPOSE, "n1", 0, t, ["pump", True]),
        encode("$sys/broker", Kind.HEARTBEAT, "n1", 0, t, {"pid": 3}),
        encode("tag/a/b", Kind.SNAPSHOT, "$broker", 0, t, [["a/b", 1, 0, t]]),
    ]


def mutate(rng: random.Random, frames: list[bytes]) -> list[bytes]:
    frames = list(frames)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(10)
        i = rng.randrange(len(frames)) if frames else 0
        if op == 0 and frames:  # flip a byte
            f = bytearray(frames[i])
            if f:
                f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
            frames[i] = bytes(f)
        elif op == 1 and frames:  # truncate
            frames[i] = frames[i][: rng.randrange(len(frames[i]) + 1)]
        elif op == 2 and frames:  # insert garbage
            f = frames[i]
            at = rng.randrange(len(f) + 1)
            frames[i] = f[:at] + rng.randbytes(rng.randint(1, 8)) + f[at:]
        elif op == 3:  # wrong frame count
            if rng.random() < 0.5 and frames:
                frames.pop(i)
            else:
                frames.insert(i, rng.randbytes(rng.randint(0, 5)))
        elif op == 4 and len(frames) > 1:  # swap
            j = rng.randrange(len(frames))
            frames[i], frames[j] = frames[j], frames[i]
        elif op == 5 and len(frames) >= 2:  # a header of another version or kind
            frames[1] = msgpack.packb(
                [rng.choice([0, 2, 99, "1", None]), rng.randint(-2, 20), "x", 1, 0.0, 0]
            )
        elif op == 6 and len(frames) >= 3:  # random msgpack payload
            frames[2] = msgpack.packb(
                rng.choice([None, 1, "x", [1, 2], {"a": [None]}, [[1, 2, 3, 4]], b"\x00" * 3])
            )
        elif op == 7 and len(frames) >= 3:  # huge payload (one in a while)
            if rng.random() < 0.01:
                frames[2] = b"\x00" * (MAX_PAYLOAD + 1)
        elif op == 8 and len(frames) >= 2:  # header with odd types
            frames[1] = pack_header(0, "x", 1, 0.0) if rng.random() < 0.3 else rng.randbytes(9)
        elif op == 9 and frames:  # non-UTF-8 topic
            frames[0] = b"\xff\xfe" + frames[0]
    return frames


class Sink:
    def __init__(self):
        self.sent = 0

    def __call__(self, *args, **kwargs):
        self.sent += 1
        return True


def test_broker_survives_and_counts_mutated_frames():
    """The checked path: the front."""
    broker = Broker("tcp://127.0.0.1:1", write_state_file=False)
    sink = Sink()
    broker._forward = sink
    broker._route = sink
    rng = random.Random(1234)
    messages = valid_messages()
    for _ in range(CASES):
        frames = mutate(rng, rng.choice(messages))
        broker._on_front([b"n1", *frames], "")
    dropped = sum(broker.stats.drops.values())
    assert dropped > CASES // 3
    assert broker.stats.drops["frame_count"] > 0
    assert broker.stats.drops["version"] > 0
    assert broker.stats.drops["payload_size"] > 0
    # valid messages still work afterwards
    before = broker.stats.messages
    broker._on_front([b"n1", *messages[0]], "")
    assert broker.stats.messages == before + 1
    # mutated tag/ batches that reached the cache are checked when merged, never crash it
    assert broker.cache.snapshot("tag/")
    assert len(broker.cache) >= 1
    broker.cache.degrade("n1", "n1 silent")


def test_broker_tap_survives_and_counts_mutated_publications():
    """The fast path: what the proxy forwarded unchecked reaches the tap (and receivers)."""
    broker = Broker("tcp://127.0.0.1:1", write_state_file=False)
    rng = random.Random(5678)
    messages = valid_messages()
    for _ in range(CASES // 200):
        broker.ledger.record_read([mutate(rng, rng.choice(messages)) for _ in range(100)], 0.0)
    assert sum(broker.stats.drops.values()) > CASES // 8
    assert broker.stats.drops["frame_count"] > 0
    assert broker.stats.drops["kind"] > 0
    before = broker.stats.messages
    broker.ledger.record_read([messages[0]], 0.0)
    assert broker.stats.messages == before + 1
    assert broker.cache.snapshot("tag/")
    broker.cache.degrade("n1", "n1 silent")


def test_node_survives_and_counts_mutated_frames():
    bus = Bus.local(name="fuzz")
    transport = ZmqTransport(bus, BrokerAddress.parse("tcp://127.0.0.1:1"), node_id="me")
    transport.send_front = Sink()
    bus.spawn = lambda coro, name=None: coro.close()
    delivered = []
    bus.subscribe("#", lambda t, p: delivered.append(t))
    rng = random.Random(4321)
    messages = valid_messages()
    for i in range(CASES):
        frames = mutate(rng, rng.choice(messages))
        if i % 2:
            transport._on_sub(frames)
        else:
            transport._on_dealer(frames)
    assert bus.stats.malformed > CASES // 3
    assert bus.stats.callback_errors == 0
    assert transport.drops["frame_count"] > 0
    assert delivered  # the mutations that stayed valid were delivered
