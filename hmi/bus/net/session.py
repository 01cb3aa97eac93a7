"""A node's session with its broker: hello and welcome, heartbeats both ways, and what
follows when the broker restarts or goes silent and comes back.

The node tells its heartbeat interval in its HELLO (and in each HEARTBEAT), so the broker
judges it by that interval; the welcome tells the broker's, by which the node judges the
broker (both: dead or lost after :data:`hmi.bus.wire.frames.DEAD_AFTER_BEATS` intervals). What
follows for the link's state (:mod:`hmi.bus.net.link`) is told to the transport's ``link``.

A hello is sent at start (queued by ZeroMQ until a broker is there: a DEALER that connected
keeps what it sends for the connection it is making), again when a broker id is heard on
``$sys/broker`` that has not welcomed the node (a restarted broker, or one that started
after the node; at most once per broker heartbeat interval), and on every new connection
of the DEALER after the first (after a refused handshake, a connection lost). Heartbeats
are sent only once a broker has welcomed the node: queued for a broker that is not there
yet, a node waiting for hours would hand it thousands at once.

Only the welcome says which broker this is: it comes on the node's own connection, where
nobody else can speak, while ``$sys/broker`` heartbeats come through the broker's XPUB,
where on the fast path (no authentication) any client can publish. So a heartbeat with an
unknown id only makes the node say hello; the node resyncs when a welcome names a new
broker, or comes after the broker was lost or the node connected again, never for a
welcome that only repeats what it knows.

A broker with a client policy (CURVE) keeps a node id to the connection that has it (no
handover): a node that connected again while the broker still held its old connection is
not heard on the new one until that one is gone. A hello not answered within
:data:`WELCOME_WAIT` while the broker is heard on the SUB means just that: a node with
CURVE keys connects its DEALER again (the broker's ZMTP heartbeats close the old
connection within seconds; without CURVE the broker hands an id over to the new
connection, and a reconnection would only drop what is queued).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from hmi.bus.net.link import LinkState
from hmi.bus.net.resync import could_be_tag
from hmi.bus.wire.control import BrokerBeat, Heartbeat, Hello, Welcome, convert
from hmi.bus.wire.frames import DEAD_AFTER_BEATS, FrameError, Kind
from hmi.bus.wire.topics import BROKER_LOST, BROKER_TOPIC

if TYPE_CHECKING:
    from hmi.bus.net.transport import ZmqTransport

log = logging.getLogger(__name__)

#: seconds (at least; or two broker heartbeat intervals) a hello may go unanswered while
#: the broker is heard before a CURVE node connects its DEALER again (see the docstring;
#: the broker closes a connection that is gone after 5 s of ZMTP heartbeats)
WELCOME_WAIT = 5.0


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
        #: how many times this node asked for the cached values of all its prefixes
        self.resyncs = 0
        #: when the oldest hello not answered yet was sent (monotonic), or None
        self._hello_at: float | None = None
        #: when a hello was last sent for a broker id heard but unknown
        self._unknown_hello_at = -math.inf
        #: the DEALER connected again: the next welcome resyncs
        self._rejoined = False
        #: why the broker does not route the RPC targets of this node's hello to it (its
        #: last welcome's ``refused``)
        self._refused: list[str] = []
        #: when a broker heartbeat (of any id) last came through the SUB (monotonic)
        self._heard_at = -math.inf
        #: a hello went unanswered while the broker was heard (logged once until welcomed)
        self._unanswered = False

    @property
    def broker_timeout(self) -> float:
        """Seconds without a broker heartbeat before the broker is taken for lost: as
        given, else DEAD_AFTER_BEATS of the broker's interval (as its welcome tells it)."""
        if self._timeout:
            return self._timeout
        return DEAD_AFTER_BEATS * self._broker_heartbeat

    def hello(self) -> None:
        """Say hello (the welcome answers it)."""
        if self._hello_at is None:
            self._hello_at = time.monotonic()
        transport = self._transport
        hello = Hello(
            name=transport.bus.name,
            pid=os.getpid(),
            host=socket.gethostname(),
            targets=transport.bus.targets,
            rpc=transport.rpc.endpoint,
            heartbeat=self.heartbeat,
            rpc_stream=transport.rpc.stream_endpoint,
            streams=transport.rpc.dials_streams,
        )
        transport.send_control(BROKER_TOPIC, Kind.HELLO, hello)

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

    def rejoined(self) -> None:
        """The DEALER connected again (after the first time): say hello on the new
        connection; the welcome that answers it resyncs (the SUB may have been cut too)."""
        self._rejoined = True
        self.hello()

    def on_beat(self, payload: Any) -> None:
        """A ``$sys/broker`` heartbeat came through the SUB (unpacked: its subscribers
        get it too)."""
        now = time.monotonic()
        self.sub_live = True
        try:
            broker_id = convert(payload, BrokerBeat, "broker_beat").id
        except FrameError as exc:
            self._transport.drop(exc.reason, exc.detail)
            return
        self._heard_at = now
        if broker_id != self.broker_id:
            # Not the broker that welcomed this node: one started after it or restarted,
            # or (on a fast path, where anyone may publish) a forgery. Only a welcome, on
            # this node's own connection, tells: hello, at most once per interval.
            if now - self._unknown_hello_at >= self._broker_heartbeat:
                self._unknown_hello_at = now
                self.hello()
            return
        silent = now - self._last_beat
        self._last_beat = now
        lost, self.lost = self.lost, False
        if lost:
            # The same broker, heard again: what was published meanwhile may not have come.
            self.resync_all()
            self.connected.set()
            note = f": heard again after {silent:.1f} s, resyncing"
            self._transport.link.connected(self.broker_id, note)

    def on_welcome(self, welcome: Welcome) -> None:
        """The broker answered a hello."""
        transport = self._transport
        broker_id = welcome.id
        previous = self.broker_id
        restarted = bool(previous) and broker_id != previous
        link = transport.link
        # Values may have been missed: a first or new broker, one lost meanwhile, a new
        # connection. A welcome that only repeats what this node knows changes nothing.
        stale = (
            not previous
            or restarted
            or self.lost
            or self._rejoined
            or link.state is not LinkState.CONNECTED
        )
        self._hello_at = None
        self._rejoined = False
        self._unanswered = False
        self.broker_id = broker_id
        # the key of the tickets for this node's stream endpoint (a new broker: a new key)
        transport.rpc.ticket_key = welcome.ticket_key
        if restarted:
            transport.rpc.forget_routes()  # (their tickets are the old broker's)
        if 0 < welcome.heartbeat < 86_400:  # (0: not told)
            self._broker_heartbeat = welcome.heartbeat
        transport.publisher.follow(welcome.pub)
        transport.publisher.rights(welcome.publish)
        transport.rights_to_serve(welcome.serve)
        if welcome.refused != self._refused:  # (said once, not at every repeated hello)
            self._refused = list(welcome.refused)
            for why in welcome.refused:
                node = self._transport.node_id
                log.error("node %s: the broker does not route calls to it: %s", node, why)
        self._last_beat = time.monotonic()
        if restarted:
            transport.publisher.replay()  # a new broker has an empty cache
        if stale:
            self.resync_all()
        self.connected.set()
        self.lost = False
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
        self.resyncs += 1
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
            self._check_hello(now)
            if self.broker_id and not self.lost and now - self._last_beat > self.broker_timeout:
                self.lost = True
                self.sub_live = False
                transport.resync.forget()
                self.connected.clear()
                transport.link.lost(self.broker_id, self.broker_timeout)
                address = transport.address.front
                news = {"broker": self.broker_id, "address": address}
                transport.deliver_from(BROKER_LOST, news, None)  # (this node's own news)

    def _check_hello(self, now: float) -> None:
        """Connect again when a broker is heard (after the hello was sent) but does not
        answer it: it keeps this node's id to a connection that is gone (see the module
        docstring)."""
        asked = self._hello_at
        if asked is None or self._heard_at <= asked or self._transport.keys is None:
            return
        if now - asked < max(WELCOME_WAIT, 2 * self._broker_heartbeat):
            return
        level = logging.DEBUG if self._unanswered else logging.WARNING
        log.log(
            level,
            "bus: broker %s is heard but has not answered this node's hello for %.1f s: "
            "connecting again",
            self._transport.address.front,
            now - asked,
        )
        self._unanswered = True
        self._hello_at = None
        self._transport.reconnect_front()

    def _beat(self) -> None:
        transport = self._transport
        stats = transport.bus.stats
        beat = Heartbeat(
            pid=os.getpid(),
            heartbeat=self.heartbeat,
            published=stats.published,
            received=stats.received,
            malformed=stats.malformed,
            gaps=stats.gaps,
            dropped=stats.dropped,
        )
        transport.send_control(BROKER_TOPIC, Kind.HEARTBEAT, beat)


# (the topics are defined in hmi.bus.wire.topics; importers of this module find them here too)
__all__ = ["BROKER_LOST", "BROKER_TOPIC", "BrokerSession"]
