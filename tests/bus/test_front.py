"""The broker's front reads a wake-up's messages in one batch and checks a run of one
node's publications on one topic once (hmi.bus.broker.front): the outcome is the one of handling
each message alone, in order, and a short message never takes another node's next
message with it (hmi.bus.net.zmqio.RouterReader).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import msgpack
import zmq

from hmi.bus.broker import Broker
from hmi.bus.net.auth import ClientRule, Policy
from hmi.bus.net.zmqio import RouterReader, send_frames
from hmi.bus.wire.frames import Flag, Kind, pack_header

T = 1.7e9
#: the two nodes of the tests and what each may publish
RULES = [
    ClientRule("a", "KEY-A", ("tag/", "cmd/", "rpc/"), ("pump",)),
    ClientRule("b", "KEY-B", ("tag/b",), ()),
]


def pub(sender: str, topic: str, seq: int, value: Any, flags: int = 0) -> list[bytes]:
    header = pack_header(Kind.PUB, sender, seq, T, flags)
    return [topic.encode(), header, msgpack.packb([[f"{topic}/v", value, 0, T]])]


def message(ident: str, frames: list[bytes], key: str) -> list[Any]:
    return [ident.encode(), *frames, key]


def traffic(rng: random.Random) -> list[list[Any]]:
    """Interleaved publications of two nodes, with what the doors refuse, malformed
    messages, gaps, probes, and control messages among them."""
    hello = msgpack.packb({"name": "a", "pid": 1, "host": "h", "targets": []})
    out: list[list[Any]] = [
        message("a", [b"$sys/broker", pack_header(Kind.HELLO, "a", 0, T), hello], "KEY-A"),
    ]
    seqs = {"tag/a1": 0, "tag/a2": 0, "tag/b1": 0}
    for i in range(400):
        choice = rng.random()
        if choice < 0.55:
            topic = rng.choice(["tag/a1", "tag/a1", "tag/a2"])
            seqs[topic] += 2 if rng.random() < 0.05 else 1  # (a gap now and then)
            out.append(message("a", pub("a", topic, seqs[topic], i), "KEY-A"))
        elif choice < 0.8:
            seqs["tag/b1"] += 1
            out.append(message("b", pub("b", "tag/b1", seqs["tag/b1"], i), "KEY-B"))
        elif choice < 0.84:
            out.append(message("b", pub("b", "tag/a1", 1, i), "KEY-B"))  # no right: refused
        elif choice < 0.87:
            out.append(message("b", pub("a", "tag/b1", 1, i), "KEY-B"))  # another's id
        elif choice < 0.89:
            out.append(message("a", pub("a", "tag/a1", 1, i), "KEY-B"))  # another key
        elif choice < 0.91:
            out.append([])  # another frame count
        elif choice < 0.93:
            out.append(message("a", [b"tag/a1", b"\xc1", b"\xc0"], "KEY-A"))  # bad header
        elif choice < 0.95:
            probe = pub("a", "$probe/a/1/", 0, None, int(Flag.REPLAY))
            out.append(message("a", probe, "KEY-A"))
        elif choice < 0.97:
            request = [b"$sys/snapshot", pack_header(Kind.SNAPSHOT_REQ, "b", 0, T), b"\xa4tag/"]
            out.append(message("b", request, "KEY-B"))
        else:
            out.append(message("a", pub("a", "$sys/stats", 1, i), "KEY-A"))  # the broker's
    return out


class Out:
    """A PAIR the broker's publications go to, and its peer to read them back."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], name: str) -> None:
        self.send = ctx.socket(zmq.PAIR)
        self.send.sndhwm = 0
        self.send.bind(f"inproc://{name}")
        self.recv = ctx.socket(zmq.PAIR)
        self.recv.rcvhwm = 0
        self.recv.connect(f"inproc://{name}")

    def read(self) -> list[list[Any]]:
        """What was sent, the header of each as its fields but the time (the broker's own
        messages are stamped when sent)."""
        got: list[list[Any]] = []
        while self.recv.poll(0):
            topic, header, payload = self.recv.recv_multipart()
            fields = msgpack.unpackb(header)
            got.append([topic, fields[:4] + fields[5:], payload])
        return got


def checked_broker(out: Out) -> tuple[Broker, list[tuple[Any, ...]]]:
    """A broker with a policy and no sockets: its publications go to ``out``, what it
    routes to one node is kept in the list."""
    broker = Broker("tcp://127.0.0.1:1", write_state_file=False, policy=Policy(RULES))
    broker.id = "broker-1"  # (its welcome names it)
    routed: list[tuple[Any, ...]] = []
    broker._forward = lambda frames: send_frames(out.send, frames)  # type: ignore[method-assign]

    def route(ident: bytes, frames: list[bytes]) -> bool:
        routed.append((ident, frames[0], *frames[2:]))
        return True

    broker._route = route  # type: ignore[method-assign]
    type(broker).outlet = property(lambda self: self._out_socket)  # type: ignore[method-assign]
    broker._out_socket = out.send  # type: ignore[attr-defined]
    return broker, routed


def outcome(broker: Broker, out: Out, routed: list[tuple[Any, ...]]) -> dict[str, Any]:
    stats = broker.stats
    return {
        "forwarded": out.read(),
        "routed": routed,
        "messages": stats.messages,
        "bytes": stats.total_bytes,
        "gaps": stats.gaps,
        "drops": dict(stats.drops),
        "refusals": dict(stats.refusals),
        "topics": dict(stats.topic_msgs),
        "cache": broker.cache.snapshot("tag/"),
        "nodes": {n.sender: (n.messages, n.alive, n.key) for n in broker.nodes.values()},
    }


def test_a_batch_ends_as_its_messages_one_by_one() -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    saved = Broker.outlet
    try:
        for seed in range(5):
            messages = traffic(random.Random(seed))
            one_out, batch_out = Out(ctx, f"one{seed}"), Out(ctx, f"batch{seed}")
            one, one_routed = checked_broker(one_out)
            batched, batch_routed = checked_broker(batch_out)
            for m in messages:
                one.front.handle([m])
            rng = random.Random(seed)
            i = 0
            while i < len(messages):  # batches of any size, as wake-ups read them
                n = rng.randint(1, 60)
                batched.front.handle(messages[i : i + n])
                i += n
            expected = outcome(one, one_out, one_routed)
            assert outcome(batched, batch_out, batch_routed) == expected
            assert expected["refusals"].keys() >= {"publish", "sender", "key", "sys"}
            assert expected["gaps"] and expected["routed"]
            for sock in (one_out.send, one_out.recv, batch_out.send, batch_out.recv):
                sock.close()
    finally:
        Broker.outlet = saved  # type: ignore[method-assign]
        ctx.destroy(linger=0)


def test_a_short_message_never_takes_another_nodes_message_with_it() -> None:
    """One peer sends messages of one and two frames (and one too long) between
    another's: the other's all arrive, whole, and each short one is counted."""

    async def main() -> None:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        router = ctx.socket(zmq.ROUTER)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        peers = []
        for name in (b"victim", b"mallory"):
            dealer = ctx.socket(zmq.DEALER)
            dealer.routing_id = name
            dealer.connect(f"tcp://127.0.0.1:{port}")
            peers.append(dealer)
        victim, mallory = peers
        got: list[list[Any]] = []
        reader = RouterReader(router, got.extend, keyed=False)
        reader.start()
        try:
            shapes = [[b"x"], [b"x", b"y"], [b"a", b"b", b"c", b"d"]]
            for i in range(300):
                mallory.send_multipart(shapes[i % 3])
                victim.send_multipart([b"tag/v", b"h%d" % i, b"p%d" % i])
            deadline = time.monotonic() + 5
            while len(got) < 600 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        finally:
            reader.close()
            for sock in (*peers, router):
                sock.close(0)
            ctx.term()
        whole = [m for m in got if m]
        assert whole == [[b"victim", b"tag/v", b"h%d" % i, b"p%d" % i, ""] for i in range(300)]
        assert len(got) - len(whole) == 300  # every one of mallory's, counted once

    asyncio.run(main())
