"""How a node publishes: per-topic sequence numbers, the last batch of every ``tag/`` topic
(given again to a restarted broker), and the path: the fast path when the broker offers it
and it is ready (:mod:`hmi.bus.fastpub`), else the DEALER to the broker's front.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import zmq

from hmi.bus.fastpub import FastPublisher, fast_endpoint
from hmi.bus.frames import Flag, Kind, pack_header, pack_payload
from hmi.bus.zmqio import send_frames

if TYPE_CHECKING:
    from hmi.bus.transport import ZmqTransport

_PUB = int(Kind.PUB)
_REPLAY = int(Flag.REPLAY)
_NIL = b"\xc0"


class Publisher:
    """The publishing side of a :class:`hmi.bus.transport.ZmqTransport`."""

    def __init__(self, transport: ZmqTransport, *, fast_path: bool = True) -> None:
        self._transport = transport
        self._node_id = transport.node_id
        #: take the broker's fast path when it offers one
        self.fast_path = fast_path
        self.fast: FastPublisher | None = None
        self._seq: dict[str, int] = {}
        self._retained: dict[str, bytes] = {}
        #: retained topics a restarted broker still needs (not published anew since)
        self._replay: set[str] = set()

    @property
    def ready(self) -> bool:
        """True while publications go straight into the broker's proxy."""
        return self.fast is not None and self.fast.usable

    def send(self, topic: str, payload: Any) -> None:
        """Publish ``payload`` on ``topic`` (called by :meth:`hmi.bus.Bus.publish`)."""
        seq = self._seq.get(topic, 0) + 1
        self._seq[topic] = seq
        data = pack_payload(payload)
        if topic.startswith("tag/"):
            self._retained[topic] = data  # given again to a restarted broker
        self._replay.discard(topic)
        self._send([topic.encode(), pack_header(_PUB, self._node_id, seq, time.time()), data])

    def probe(self, topic: str) -> None:
        """Publish a probe (see :mod:`hmi.bus.resync`) on the path publications take now;
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

    def replay(self) -> None:
        """Give a restarted broker (empty cache) the last batch of every ``tag/`` topic.

        On the path later publications take (a new fast path first gets ready), so that
        none of them overtakes; a topic published anew meanwhile needs no replay.
        """
        self._replay = set(self._retained)
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
            seq = self._seq.get(topic, 0) + 1
            self._seq[topic] = seq
            header = pack_header(_PUB, self._node_id, seq, time.time())
            self._send([topic.encode(), header, self._retained[topic]])
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
