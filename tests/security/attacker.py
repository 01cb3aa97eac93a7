"""What an attacker on the same machine uses: the wire protocol spoken with pyzmq alone.

It chooses its connection's routing id and the sender in its headers, and may hold an
admitted CURVE key (an operator station's gone bad). Reading never blocks the loop the
broker under attack runs on.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import zmq

from hmi.bus.net.keys import ClientKeys
from hmi.bus.wire.frames import Kind, encode, header_fields


async def until(predicate: Any, timeout: float = 5.0) -> None:
    """Wait for ``predicate()`` (polling the loop; fails after ``timeout`` seconds)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


class Attacker:
    """A DEALER on the broker's front with a routing id of its choosing."""

    def __init__(self, front: str, routing_id: str, keys: ClientKeys | None = None) -> None:
        self.routing_id = routing_id
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sock = self._ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.routing_id = routing_id.encode()
        if keys is not None:
            keys.apply(self.sock)
        self.sock.connect(front)

    def send(self, kind: int, topic: str, payload: Any, *, sender: str | None = None) -> None:
        """One message; its header names ``sender`` (default: the routing id)."""
        who = self.routing_id if sender is None else sender
        self.sock.send_multipart(encode(topic, kind, who, 0, time.time(), payload))

    def received(self) -> list[tuple[int, str, bytes]]:
        """``(kind, topic, payload)`` of what the broker sent here so far."""
        got = []
        while self.sock.poll(0):
            topic, header, payload = self.sock.recv_multipart()
            got.append((header_fields(header)[1], topic.decode(), payload))
        return got

    def close(self) -> None:
        self.sock.close()
        self._ctx.term()


class FastPublisher:
    """An XPUB on a broker's fast path: what any client on a trusted machine may use."""

    def __init__(self, endpoint: str) -> None:
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sock = self._ctx.socket(zmq.XPUB)
        self.sock.linger = 0
        self.sock.connect(endpoint)

    async def ready(self) -> None:
        """Until the broker's tap subscribed (before that, publications are dropped)."""
        got: list[bytes] = []

        def subscribed() -> bool:
            while self.sock.poll(0):
                got.append(self.sock.recv())
            return b"\x01" in got

        await until(subscribed)

    def publish(self, topic: str, payload: Any, sender: str, seq: int = 1) -> None:
        self.sock.send_multipart(encode(topic, Kind.PUB, sender, seq, time.time(), payload))

    def close(self) -> None:
        self.sock.close()
        self._ctx.term()
