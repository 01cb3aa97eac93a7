"""A node's session with its broker: hello and welcome, heartbeats both ways, and what
follows when the broker restarts or goes silent and comes back.

The node tells its heartbeat interval in its HELLO (and in each HEARTBEAT), so the broker
judges it by that interval; the welcome tells the broker's, by which the node judges the
broker (both: dead or lost after :data:`hmi.bus.frames.DEAD_AFTER_BEATS` intervals). What
follows for the link's state (:mod:`hmi.bus.link`) is told to the transport's ``link``.

A hello is sent at start (queued by ZeroMQ until a broker is there: a DEALER that connected
keeps what it sends for the connection it is making), again to every broker id heard on
``$sys/broker`` that has not welcomed the node (a restarted one, or one that started after
the node), and on the new connection after a refused handshake. Heartbeats are sent only
once a broker has welcomed the node: queued for a broker that is not there yet, a node
waiting for hours would hand it thousands at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from hmi.bus.frames import DEAD_AFTER_BEATS, Kind
from hmi.bus.link import LinkState
from hmi.bus.resync import could_be_tag
from hmi.bus.topics import BROKER_LOST, BROKER_TOPIC

if TYPE_CHECKING:
    from hmi.bus.transport import ZmqTransport

log = logging.getLogger(__name__)


class BrokerSession:
    """Who the broker is, whether it is heard, and the node's side of the heartbeats."""

    def __init__(
        self, transport: ZmqTransport, *, heartbeat: float, broker_timeout: float | None
    ) -> None:
        if not 0 < heartbeat < 86_400:
            raise ValueError(f"heartbeat {heartbeat!r}: seconds, more than 0")
        self._transport = transport
        #: seconds between this node's heartbeats (the broker judges the node by them)
        self.heartbeat = heartbeat
        #: the broker's id, from its welcome ('' until then)
        self.broker_id = ""
        #: set by a welcome, cleared while the broker is lost
        self.connected = asyncio.Event()
        #: the SUB has heard from the broker since it was last lost (see resync)
        self.sub_live = False
        #: no broker heartbeat for broker_timeout (BROKER_LOST delivered), none since
        self.lost = False
        self._timeout = broker_timeout
        self._broker_heartbeat = heartbeat
        self._last_beat = time.monotonic()
        #: set once the transport closes (ends every wait for a welcome)
        self._closing = asyncio.Event()

    @property
    def broker_timeout(self) -> float:
        """Seconds without a broker heartbeat before the broker is taken for lost: as
        given, else DEAD_AFTER_BEATS of the broker's interval (as its welcome tells it)."""
        if self._timeout:
            return self._timeout
        return DEAD_AFTER_BEATS * self._broker_heartbeat

    def hello(self) -> None:
        """Say hello (the welcome answers it)."""
        transport = self._transport
        transport.send_control(
            BROKER_TOPIC,
            Kind.HELLO,
            {
                "name": transport.bus.name,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "targets": transport.bus.targets,
                "rpc": transport.rpc.endpoint,
                "heartbeat": self.heartbeat,
            },
        )

    async def join(self, wait: float) -> None:
        """Wait up to ``wait`` seconds (``math.inf``: as long as it takes) for the welcome,
        then a moment for the fast path; without a welcome, close and raise
        ConnectionError (saying what the link knows, e.g. that the key was refused)."""
        transport = self._transport
        if not await self.wait_connected(None if math.isinf(wait) else wait):
            detail = transport.link.detail
            await transport.close()
            raise ConnectionError(f"no welcome within {wait} s: {detail}")
        fast = transport.publisher.fast
        if fast is not None:
            # Publications go through the DEALER until the fast path is ready: wait a
            # moment, so the first ones already take it (and never overtake each other).
            try:
                await asyncio.wait_for(fast.ready.wait(), min(wait, 1.0))
            except TimeoutError:
                log.warning("fast path %s not ready: publishing via the front", fast.endpoint)

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until a broker has welcomed this node and is heard: True, or False after
        ``timeout`` seconds (None: no limit) or once the transport closes."""
        if self.connected.is_set() or self._closing.is_set():
            return self.connected.is_set() and not self._closing.is_set()
        waits = [
            asyncio.ensure_future(self.connected.wait()),
            asyncio.ensure_future(self._closing.wait()),
        ]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return self.connected.is_set() and not self._closing.is_set()

    def close(self) -> None:
        """The transport closes: waits for a welcome end (False)."""
        self._closing.set()

    def on_beat(self, payload: Any) -> None:
        """A ``$sys/broker`` heartbeat came through the SUB."""
        now = time.monotonic()
        silent = now - self._last_beat
        self._last_beat = now
        self.sub_live = True
        broker_id = payload.get("id") if isinstance(payload, dict) else None
        lost, self.lost = self.lost, False
        if isinstance(broker_id, str) and broker_id != self.broker_id:
            # A broker that has not welcomed this node (restarted, or started after it):
            # hello; the welcome triggers the resync (and the link logs it).
            self.hello()
        elif lost and self.broker_id:
            # The same broker, heard again: what was published meanwhile may not have come.
            self.resync_all()
            self.connected.set()
            note = f": heard again after {silent:.1f} s, resyncing"
            self._transport.link.connected(self.broker_id, note)

    def on_welcome(self, payload: Any) -> None:
        """The broker answered a hello."""
        transport = self._transport
        broker_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(broker_id, str):
            transport.drop("welcome")
            return
        previous = self.broker_id
        restarted = bool(previous) and broker_id != previous
        self.broker_id = broker_id
        beat = payload.get("heartbeat")
        if (type(beat) is float or type(beat) is int) and 0 < beat < 86_400:
            self._broker_heartbeat = float(beat)
        transport.publisher.follow(payload.get("pub"))
        self._last_beat = time.monotonic()
        if restarted:
            transport.publisher.replay()  # a new broker has an empty cache
        self.resync_all()
        self.connected.set()
        self.lost = False
        link = transport.link
        if restarted:
            link.connected(broker_id, f": a new broker (was {previous}), resyncing")
        elif link.state is not LinkState.CONNECTED:
            link.connected(broker_id)  # (not again for the answer to a repeated hello)

    def on_republish(self) -> None:
        """The broker had declared this node dead (silent: a long pause, a network blip)
        and hears it again: its cache and every subscriber hold the node's values marked
        node dead, so they are published again, and delivered here too."""
        log.warning("broker %s had taken this node for dead: republishing", self.broker_id)
        self._transport.publisher.replay(local=True)

    def resync_all(self) -> None:
        """Ask the broker for the cached values of every prefix that can match ``tag/``."""
        transport = self._transport
        prefixes = [prefix for prefix in transport.bus.prefixes if could_be_tag(prefix)]
        transport.resync.restart(prefixes, time.monotonic(), self.sub_live)

    async def run(self) -> None:
        """Send heartbeats; notice a broker gone silent."""
        transport = self._transport
        while True:
            await asyncio.sleep(self.heartbeat)
            transport.publisher.poll()
            if self.broker_id:  # (see the module docstring)
                self._beat()
            now = time.monotonic()
            if transport.resync.asked:
                transport.resync.expire(now)
            if self.broker_id and not self.lost and now - self._last_beat > self.broker_timeout:
                self.lost = True
                self.sub_live = False
                transport.resync.forget()
                self.connected.clear()
                transport.link.lost(self.broker_id, self.broker_timeout)
                address = transport.address.front
                transport.bus.deliver(BROKER_LOST, {"broker": self.broker_id, "address": address})

    def _beat(self) -> None:
        transport = self._transport
        stats = transport.bus.stats
        transport.send_control(
            BROKER_TOPIC,
            Kind.HEARTBEAT,
            {
                "pid": os.getpid(),
                "heartbeat": self.heartbeat,
                "published": stats.published,
                "received": stats.received,
                "malformed": stats.malformed,
                "gaps": stats.gaps,
                "dropped": stats.dropped,
            },
        )


# (the topics are defined in hmi.bus.topics; importers of this module find them here too)
__all__ = ["BROKER_LOST", "BROKER_TOPIC", "BrokerSession"]
