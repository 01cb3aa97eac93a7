"""What a node receives from its broker: publications on its SUB, and on its DEALER what
the broker sends it alone (control messages, RPC, snapshots).

Every message is checked (frame count, sizes, header; payloads of control kinds decoded
into their typed messages, :mod:`hmi.bus.wire.control`); a malformed one is dropped and
counted by reason (:attr:`Receiver.drops`, ``transport.drops``), logged at most once per
reason every 10 s. Publications are delivered to the bus's subscribers with the
transport's ``current_sender`` set to their sender meanwhile.

The sequence numbers of what the node receives, per (sender, topic), are kept for at
most :data:`MAX_SEQS` pairs (past it they are forgotten all at once, and each pair then
misses the gap check of one message): a flood of new topics cannot grow a subscriber's
memory without bound (docs/bus-protocol.md, "Bounds"). A gap on a ``tag/`` topic asks
for a snapshot of that topic; at most :data:`MAX_GAP_ASKS` topics wait for theirs at
once, past it the node asks for every prefix it subscribes to instead (gaps on a flood
of topics would make as many requests, and as many prefixes to check each batch
against while they wait).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import msgpack

from hmi.bus.net.resync import could_be_tag
from hmi.bus.net.session import BROKER_TOPIC
from hmi.bus.wire.control import ANY, CALL, PREFIX, REPLY, ROUTE, WELCOME, decode
from hmi.bus.wire.frames import (
    MAX_PAYLOAD,
    Flag,
    FrameError,
    Kind,
    check_header,
    header_fields,
    parse_topic,
    unpack_payload,
)
from hmi.bus.wire.throttle import Throttle

if TYPE_CHECKING:
    from hmi.bus.net.transport import ZmqTransport

log = logging.getLogger(__name__)

SNAPSHOT_TOPIC = "$sys/snapshot"
#: (sender, topic) sequence numbers a node keeps at most
MAX_SEQS = 100_000
#: snapshots of single topics (asked after gaps) a node waits for at once, at most
MAX_GAP_ASKS = 64
_PUB = int(Kind.PUB)
_REPLAY = int(Flag.REPLAY)
_unpackb = msgpack.unpackb


class Receiver:
    """The receiving side of a :class:`hmi.bus.net.transport.ZmqTransport`."""

    def __init__(self, transport: ZmqTransport) -> None:
        self._transport = transport
        self.bus = transport.bus
        self.node_id = transport.node_id
        #: malformed (and otherwise dropped) messages, by reason
        self.drops: Counter[str] = Counter()
        self._drop_log = Throttle()
        self._seqs: dict[tuple[str, str], int] = {}
        self._probe_prefix_b = transport.prober.prefix_b
        #: the node id of the received message being delivered (the transport's
        #: ``current_sender``): a context variable, one per transport, so that the tasks a
        #: delivery starts keep it
        self.sender_var: ContextVar[str | None] = ContextVar(
            f"hmi-bus-sender-{self.node_id}", default=None
        )

    def drop(self, reason: str, detail: str = "") -> None:
        """Count a malformed message; ``detail`` (what is wrong with it) is logged, at
        most one line per reason every 10 s (see hmi.bus.wire.throttle)."""
        self.bus.stats.malformed += 1
        self.drops[reason] += 1
        if detail:
            more = self._drop_log(reason, time.monotonic())
            if more is not None:
                # (a ticket refused is a call refused, not garbage: a broker that restarted
                # voids the tickets it gave, and callers go back through it)
                what = (
                    "refused a direct call" if reason == "ticket" else "dropped a malformed message"
                )
                log.warning("bus: %s (%s): %s%s", what, reason, detail, more)

    def on_sub(self, frames: list[bytes]) -> None:
        """A message of the SUB socket: a publication (the hot path of a subscriber:
        frame count, sizes and frames.check_header)."""
        if len(frames) != 3:
            self.drop("frame_count")
            return
        topic_b, header_b, payload_b = frames
        if len(payload_b) > MAX_PAYLOAD:
            self.drop("payload_size")
            return
        fields = check_header(header_b)
        if isinstance(fields, str):
            self.drop(fields)
            return
        _, kind, sender, seq, _, flags = fields
        if sender == self.node_id:
            if topic_b.startswith(self._probe_prefix_b):
                self._on_probe(topic_b)
            return  # our own publication, already delivered locally
        if kind != _PUB:
            self.drop("kind")
            return
        try:
            topic = topic_b.decode()
            payload = _unpackb(payload_b)
        except UnicodeDecodeError:
            self.drop("topic_utf8")
            return
        except Exception:
            self.drop("payload_msgpack")
            return
        stats = self.bus.stats
        stats.received += 1
        transport = self._transport
        if not flags & _REPLAY:
            key = (sender, topic)
            seqs = self._seqs
            last = seqs.get(key)
            if last is None and len(seqs) >= MAX_SEQS:
                seqs.clear()  # (a flood of new topics: see the module docstring)
            seqs[key] = seq
            if last is not None and seq > last + 1:
                stats.gaps += 1
                self.drops["gap"] += 1
                if topic.startswith("tag/"):
                    self._resync_gap(topic)
        if topic == BROKER_TOPIC:
            transport.session.on_beat(payload)
        elif transport.resync.asked and topic.startswith("tag/") and transport.resync.holds(topic):
            transport.resync.hold(topic, payload, sender)  # until the snapshot asked for
            return
        token = self.sender_var.set(sender)
        try:
            self.bus.deliver(topic, payload)
        finally:
            self.sender_var.reset(token)

    def _resync_gap(self, topic: str) -> None:
        """A message of ``topic`` was lost: ask for its snapshot, or, when many topics wait
        for theirs (:data:`MAX_GAP_ASKS`), for every subscribed prefix not asked yet."""
        resync = self._transport.resync
        now = time.monotonic()
        if topic in resync.asked or len(resync.asked) < MAX_GAP_ASKS:
            resync.ask(topic, now)
            return
        for prefix in self.bus.prefixes:
            if could_be_tag(prefix) and prefix not in resync.asked:
                resync.ask(prefix, now)

    def deliver_from(self, topic: str, payload: Any, sender: str | None) -> None:
        """Deliver ``payload`` to the local subscribers with ``current_sender`` set to
        ``sender`` meanwhile (None: this node's own, or its own news)."""
        token = self.sender_var.set(sender)
        try:
            self.bus.deliver(topic, payload)
        finally:
            self.sender_var.reset(token)

    def deliver_own(self, topic: str, payload: Any) -> None:
        """Deliver this node's own current values of ``topic`` locally again, after any
        live batch held for a snapshot (a node-dead batch of the broker's may be one)."""
        resync = self._transport.resync
        if resync.asked and resync.holds(topic):
            resync.hold(topic, payload, None)
        else:
            self.deliver_from(topic, payload, None)

    def _on_probe(self, topic_b: bytes) -> None:
        transport = self._transport
        n = transport.prober.number(topic_b)
        if n is not None:
            transport.session.sub_live = True
            transport.resync.on_probe(n, time.monotonic())

    def on_dealer(self, frames: list[bytes]) -> None:
        """A message of the DEALER: what the broker sends this node alone, its control
        messages and RPC, each payload decoded into its typed message
        (hmi.bus.wire.control) in one pass, and snapshots, whose sample batches subscribers
        get unpacked, as live ones."""
        if len(frames) != 3:
            self.drop("frame_count")
            return
        transport = self._transport
        topic_b, header_b, payload_b = frames
        try:
            topic = parse_topic(topic_b)
            _, kind, sender, _, _, _ = header_fields(header_b)
            if len(payload_b) > MAX_PAYLOAD:
                raise FrameError("payload_size", f"{len(payload_b)} bytes")
            if kind == Kind.RPC_REP:
                transport.rpc.on_reply(decode(REPLY, payload_b, "rpc_reply"))
            elif kind == Kind.RPC_REQ:
                if not topic.startswith("rpc/"):  # (the target is the rest of the topic)
                    raise FrameError("rpc_request", f"a request on {topic!r}")
                transport.rpc.on_request(topic, sender, decode(CALL, payload_b, "rpc_request"))
            elif kind == Kind.SNAPSHOT:
                if topic == SNAPSHOT_TOPIC:
                    transport.resync.on_end(decode(PREFIX, payload_b, "snapshot_end"))
                else:
                    self._on_snapshot(topic, sender, unpack_payload(payload_b))
            elif kind == Kind.HELLO:
                transport.session.on_welcome(decode(WELCOME, payload_b, "welcome"))
            elif kind == Kind.ROUTE:
                transport.rpc.on_route(decode(ROUTE, payload_b, "route"))
            elif kind == Kind.REPUBLISH:
                decode(ANY, payload_b, "republish")
                transport.session.on_republish()
            else:
                self.drop("kind")
        except FrameError as exc:
            self.drop(exc.reason, exc.detail)

    def _on_snapshot(self, topic: str, sender: str, payload: Any) -> None:
        """A cached batch of the snapshot this node asked for."""
        self.bus.stats.received += 1
        self.deliver_from(topic, payload, sender)  # (the broker's: its cache)
        own = self._transport.publisher.values(topic)
        if own:  # the broker's copy of this node's own tags may be marked node dead
            self.bus.deliver(topic, own)
