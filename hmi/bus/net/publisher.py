"""How a node publishes: per-topic sequence numbers, the current values of every ``tag/``
topic it publishes (given again to a restarted broker, or to one that had declared the node
dead), and the path: the fast path when the broker offers it and it is ready
(:mod:`hmi.bus.net.fastpub`), else the DEALER to the broker's front.

The current values are the latest entry of each tag as published, merged per topic when
it is published (~25 ns a sample; a driver that publishes only changes has its static
tags in older batches, so the last batch alone would not do).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import zmq

from hmi.bus.net.fastpub import FastPublisher, fast_endpoint
from hmi.bus.net.zmqio import send_frames
from hmi.bus.wire.frames import Flag, Kind, pack_header, pack_payload
from hmi.bus.wire.samples import MalformedPayload, decode_samples

if TYPE_CHECKING:
    from hmi.bus.net.transport import ZmqTransport

log = logging.getLogger(__name__)

_PUB = int(Kind.PUB)
_REPLAY = int(Flag.REPLAY)
_NIL = b"\xc0"


class Publisher:
    """The publishing side of a :class:`hmi.bus.net.transport.ZmqTransport`."""

    def __init__(self, transport: ZmqTransport, *, fast_path: bool = True) -> None:
        self._transport = transport
        self._node_id = transport.node_id
        #: take the broker's fast path when it offers one
        self.fast_path = fast_path
        self.fast: FastPublisher | None = None
        self._seq: dict[str, int] = {}
        #: ``tag/`` topic -> tag -> its latest entry ``[name, value, quality, time]``
        self._current: dict[str, dict[Any, Any]] = {}
        #: topics whose values a broker still needs (not published anew since)
        self._replay: set[str] = set()
        #: what the broker's policy lets this node's key publish (its welcome's prefixes;
        #: None: no policy, or not told), and the topics said to be outside it
        self._may_publish: tuple[str, ...] | None = None
        self._refused: set[str] = set()

    @property
    def ready(self) -> bool:
        """True while publications go straight into the broker's proxy."""
        return self.fast is not None and self.fast.usable

    def send(self, topic: str, payload: Any) -> None:
        """Publish ``payload`` on ``topic`` (called by :meth:`hmi.bus.Bus.publish`)."""
        data = pack_payload(payload)  # first: one it refuses costs no sequence number
        seq = self._seq.get(topic, 0) + 1
        self._seq[topic] = seq
        if seq == 1 and self._may_publish is not None:
            self._check(topic)
        if topic.startswith("tag/"):
            current = self._current.get(topic)
            if current is None:
                current = self._current[topic] = {}
            try:
                for entry in payload:
                    current[entry[0]] = entry
            except (TypeError, KeyError, IndexError):
                pass  # not a sample batch (receivers drop it); values() leaves it out
            if self._replay and topic in self._replay:
                # still owed to the broker: the topic's values go with this publication
                self._replay.discard(topic)
                data = pack_payload(self.values(topic) or payload)
        self._send([topic.encode(), pack_header(_PUB, self._node_id, seq, time.time()), data])

    def values(self, topic: str) -> list[Any]:
        """The current entries of ``topic`` as published, those of every tag (a sample
        batch: entries that are not valid samples are left out)."""
        entries = list(self._current.get(topic, {}).values())
        try:
            decode_samples(entries)
        except MalformedPayload:
            entries = [entry for entry in entries if _valid(entry)]
        return entries

    def tags(self) -> set[str]:
        """The names of the tags this node has published (on ``tag/`` topics)."""
        names: set[str] = set()
        for current in self._current.values():
            names.update(name for name in current if type(name) is str)
        return names

    def probe(self, topic: str) -> None:
        """Publish a probe (see :mod:`hmi.bus.net.resync`) on the path publications take now;
        flag REPLAY and seq 0: no sequence for receivers to follow, payload nil."""
        header = pack_header(_PUB, self._node_id, 0, time.time(), _REPLAY)
        self._send([topic.encode(), header, _NIL])

    def _send(self, frames: list[bytes]) -> None:
        fast = self.fast
        if fast is None or not fast.usable:
            self._transport.send_front(frames)
            return
        try:
            send_frames(fast.sock, frames)
        except zmq.Again:  # at the high-water mark: dropped and counted, never blocking
            self._transport.bus.stats.dropped += 1
            self._transport.drops["hwm"] += 1

    def rights(self, prefixes: list[str] | None) -> None:
        """The broker's welcome says what this node's key may publish (None: anything):
        each topic outside it, published already or later, is said once (the broker
        refuses it; without this, a node whose policy lacks a right looked healthy while
        its values went nowhere)."""
        self._may_publish = tuple(prefixes) if prefixes is not None else None
        self._refused.clear()
        if self._may_publish is not None:
            for topic in list(self._seq):
                self._check(topic)

    def _check(self, topic: str) -> None:
        allowed = self._may_publish
        if allowed is None or topic.startswith(allowed) or topic in self._refused:
            return
        self._refused.add(topic)
        log.error(
            "node %s: the broker's policy does not let this node's key publish %r (its "
            "publish prefixes: %s): the broker refuses it",
            self._node_id,
            topic,
            ", ".join(allowed) or "none",
        )

    def follow(self, announced: Any) -> None:
        """Take the fast endpoint of a (new) broker's welcome; '' or absent: none."""
        transport = self._transport
        endpoint = fast_endpoint(announced, transport.address.front) if self.fast_path else ""
        fast = self.fast
        if fast is not None and fast.endpoint != endpoint:
            fast.close()  # a restarted broker on another port, or one that checks everything
            self.fast = fast = None
        if endpoint and fast is None:
            self.fast = FastPublisher(
                transport.context, endpoint, hwm=transport.hwm, keys=transport.keys
            )

    def replay(self, *, local: bool = False) -> None:
        """Publish the current values of every ``tag/`` topic again: for a restarted broker
        (empty cache), or one that had declared this node dead (its cache and every
        subscriber hold them marked node dead). ``local``: deliver them to this node's
        own subscribers too (they got the node-dead batches as well).

        On the path later publications take (a new fast path first gets ready), so that
        none of them overtakes; a topic published meanwhile carries its values itself.
        """
        if local:
            for topic in self._current:
                entries = self.values(topic)
                if entries:
                    self._transport.deliver_own(topic, entries)
        self._replay = set(self._current)
        fast = self.fast
        if fast is not None and not fast.usable:
            self._transport.bus.spawn(self._replay_when_ready(fast), name="bus replay")
        else:
            self._replay_now()

    async def _replay_when_ready(self, fast: FastPublisher) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fast.ready.wait(), 1.0)
        self._replay_now()

    def _replay_now(self) -> None:
        for topic in list(self._replay):
            entries = self.values(topic)
            if not entries:
                continue
            seq = self._seq.get(topic, 0) + 1
            self._seq[topic] = seq
            header = pack_header(_PUB, self._node_id, seq, time.time())
            self._send([topic.encode(), header, pack_payload(entries)])
        self._replay.clear()

    def poll(self) -> None:
        """Notice subscription changes on the fast path (called every heartbeat)."""
        if self.fast is not None:
            self.fast.poll()

    def close(self) -> None:
        """Stop using the fast path."""
        if self.fast is not None:
            self.fast.close()
            self.fast = None


def _valid(entry: Any) -> bool:
    """True when ``entry`` is a sample entry receivers take."""
    try:
        decode_samples([entry])
    except MalformedPayload:
        return False
    return True
