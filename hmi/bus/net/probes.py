"""A node's probes: are its subscriptions active at the broker yet? (see :mod:`hmi.bus.net.resync`).

Probe ``n`` is a topic of the node's own, ``$probe/<node id>/<n>/``: the node subscribes to
it on its SUB, after the subscriptions it is for, and publishes nil on it by the path its
publications take, again and again (5, 10, 20 ... ms apart, at most 200 ms) until it comes
back through the broker's XPUB: then the broker has every subscription made before it.
Outside ``$sys/``: a node watching ``$sys/#`` would let its own probe back through that
older subscription, which proves nothing about the new one.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hmi.bus.net.transport import ZmqTransport

PROBE_PREFIX = "$probe/"
#: a probe is published again after this long, doubling up to PROBE_RETRY_MAX, until back
PROBE_RETRY = 0.005
PROBE_RETRY_MAX = 0.2


class Prober:
    """Sends the probes a transport's :class:`hmi.bus.net.resync.Resync` asks for."""

    def __init__(self, transport: ZmqTransport) -> None:
        self._transport = transport
        self.prefix = f"{PROBE_PREFIX}{transport.node_id}/"
        #: the topics of this node's probes start with this (the SUB's hot path tests it)
        self.prefix_b = self.prefix.encode()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """The transport's sockets are open (inside the running loop)."""
        self._loop = asyncio.get_running_loop()

    def close(self) -> None:
        """The sockets are closing: no more probes."""
        self._loop = None

    def topic(self, n: int) -> str:
        """The topic of probe ``n`` (the trailing '/' keeps 1 from matching 10)."""
        return f"{self.prefix}{n}/"

    def probe(self, n: int) -> None:
        """Subscribe to probe ``n`` and publish it until it is back (or dropped)."""
        if self._loop is None:
            return  # not started
        self._transport.sub_subscribe(self.topic(n))
        self._again(n, PROBE_RETRY)

    def _again(self, n: int, delay: float) -> None:
        resync = self._transport.resync
        if self._loop is None or n not in resync.probes:
            return
        resync.expire(time.monotonic())  # a probe that never comes back: ask anyway
        if n not in resync.probes:
            return
        # Until the broker has the probe's subscription its XPUB drops the probe: again.
        self._transport.publisher.probe(self.topic(n))
        self._loop.call_later(delay, self._again, n, min(2 * delay, PROBE_RETRY_MAX))

    def unprobe(self, n: int) -> None:
        """Unsubscribe from probe ``n`` (back, given up, or of a broker gone)."""
        if self._loop is not None:
            self._transport.sub_unsubscribe(self.topic(n))

    def number(self, topic_b: bytes) -> int | None:
        """The number of the probe that came back on ``topic_b`` (one of ours), if any."""
        number = topic_b[len(self.prefix_b) : -1]
        if topic_b.endswith(b"/") and number.isdigit():
            return int(number)
        return None
