"""The broker's front: every message nodes send, checked before the broker acts on it.

The hot path of a broker with a client policy (the checked path: every publication comes
through here) and of every broker's control messages and RPC. The front is read in
batches (:class:`hmi.bus.net.zmqio.BatchReader`, a wake-up's messages in one call), and the
work of a publication is done once per *run*: consecutive publications of one connection,
with one key and one sender, on one topic (a driver's scans, a station's commands). The
first message of a run passes every door (:meth:`Front.first`: the sender is its
connection's, the key is its node's, its publish rights, ``$sys/``); the next ones are
checked only for what may differ (their header: kind, sender, sequence number) and
forwarded. The ledger records a run once at its end
(:meth:`hmi.bus.broker.ledger.Ledger.record_run`: cache, sequence numbers, statistics),
before anything else happens: a control message ends the run, so a snapshot request after
publications sees them cached.

Measured (docs/bus-protocol.md, "Speed"): the broker's Python per checked publication
went from ~7 us (a call per message, each frame a ``zmq.Frame``, lookups per message) to
~3 us.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import zmq

from hmi.bus.broker.ledger import Run
from hmi.bus.net.zmqio import raw_send
from hmi.bus.wire.frames import MAX_PAYLOAD, MAX_TOPIC, Fields, Flag, Kind, check_header

if TYPE_CHECKING:
    from hmi.bus.broker import Broker

_PUB, _BYE = int(Kind.PUB), int(Kind.BYE)
_FULL = int(Flag.FULL)
_SYS = b"$sys/"
_TAG = b"tag/"
#: nodes' probes (see hmi.bus.net.resync): forwarded, not recorded
_PROBE = b"$probe/"
_MORE = int(zmq.NOBLOCK | zmq.SNDMORE)
_LAST = int(zmq.NOBLOCK)


class Front:
    """The checks and the hot path of one :class:`hmi.bus.broker.server.Broker`'s front."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    def batch(self, messages: list[list[Any]]) -> None:
        """The messages of one read of the front (``[routing id, topic, header, payload,
        key]`` each, ``[]`` for one of another frame count; see
        :func:`hmi.bus.net.zmqio.Reader`)."""
        self._broker.now = time.monotonic()
        self.handle(messages)

    def handle(self, messages: list[list[Any]]) -> None:
        """Check and act on ``messages`` in order (at the broker's ``now``)."""
        broker = self._broker
        drops = broker.stats.drops
        out: Any = None  # the socket publications go out on (looked up once a run goes on)
        run: Run | None = None
        for message in messages:
            if len(message) != 5:
                drops["frame_count"] += 1
                continue
            ident, topic_b, header_b, payload_b, key = message
            if len(payload_b) > MAX_PAYLOAD:
                drops["payload_size"] += 1
                continue
            fields = check_header(header_b)
            if isinstance(fields, str):
                drops[fields] += 1
                continue
            if run is not None:
                if (
                    fields[1] == _PUB
                    and topic_b == run.topic_b
                    and ident == run.ident
                    and key == run.key
                    and fields[2] == run.sender
                ):
                    # The run goes on: the same connection, key, sender and topic as its
                    # first message, which passed every door.
                    seq = fields[3]
                    last = run.last
                    if last is not None and seq > last + 1:
                        run.gaps += 1
                    run.last = seq
                    run.count += 1
                    run.size += len(payload_b)
                    if run.batches is not None:
                        run.batches.append((payload_b, fields[5] & _FULL))
                    if out is None:
                        out = broker.outlet
                    try:  # (multipart messages are queued whole: only the first part
                        # can meet the high-water mark)
                        raw_send(out, topic_b, _MORE)
                        raw_send(out, header_b, _MORE)
                        raw_send(out, payload_b, _LAST)
                    except zmq.Again:
                        drops["hwm"] += 1
                    continue
                self.end(run)
                run = None
            run = self.first(ident, topic_b, header_b, payload_b, key, fields)
        if run is not None:
            self.end(run)

    def first(  # noqa: PLR0917 - the parts of the message, as the front read them
        self,
        ident: bytes,
        topic_b: bytes,
        header_b: bytes,
        payload_b: bytes,
        key: str,
        fields: Fields,
    ) -> Run | None:
        """A message that continues no run (its frames, sizes and header checked): every
        door, then the broker acts on it. A publication let through is forwarded and
        returned as the start of a run."""
        broker = self._broker
        _, kind, sender, seq, _, flags = fields
        if not topic_b or len(topic_b) > MAX_TOPIC:
            broker.stats.drops["topic_size"] += 1
            return None
        try:
            topic = topic_b.decode()
        except UnicodeDecodeError:
            broker.stats.drops["topic_utf8"] += 1
            return None
        now = broker.now
        node = broker.nodes.get(ident)
        if node is None or sender != node.sender or key != node.key:
            # (two comparisons per message for a known node; the doors only when they fail)
            node = broker.doors.identify(ident, sender, key, node, kind, now)
            if node is None:
                return None
        node.last_seen = now
        if not node.alive and kind != _BYE:
            if node.said_hello:
                broker.control.back(node)
            else:  # (one that never said hello is alive while it talks)
                node.alive = True
        if kind != _PUB:
            node.messages += 1
            # Control kinds: the payload is decoded into its typed message
            # (hmi.bus.wire.control) in one pass; one that does not fit is counted and dropped,
            # nothing of it applied.
            broker.control.handle(node, ident, topic_b, topic, kind, header_b, payload_b)
            return None
        if (node.rule is not None or topic_b.startswith(_SYS)) and not (
            broker.doors.may_publish(node, topic_b, topic, now)
        ):
            if not broker.tapped:
                node.messages += 1
            return None
        # Checked: on to the subscribers. Cache and statistics are kept at the run's end,
        # or by the tap (which sees it pass like every publication) when there is one.
        record = not broker.tapped and not topic_b.startswith(_PROBE)
        last = broker.ledger.last_seq(sender, topic_b) if record else None
        run = Run(node, key, topic_b, topic, last, record)
        if record and topic_b.startswith(_TAG):
            run.batches = [(payload_b, flags & _FULL)]
        if last is not None and seq > last + 1:
            run.gaps += 1
        run.last = seq
        run.count = 1
        run.size = len(payload_b)
        broker._forward([topic_b, header_b, payload_b])
        return run

    def end(self, run: Run) -> None:
        """A run is over: the ledger records it (the checked path), its node counts it."""
        broker = self._broker
        if not broker.tapped:  # (the tap counts publications when there is one)
            run.node.messages += run.count
        if run.record:
            broker.ledger.record_run(run)
