"""A node's session with its broker: hello and welcome, heartbeats both ways, and what
follows when the broker restarts or goes silent and comes back.

The node tells its heartbeat interval in its HELLO (and in each HEARTBEAT), so the broker
judges it by that interval; the welcome tells the broker's, by which the node judges the
broker (both: dead or lost after :data:`hmi.bus.frames.DEAD_AFTER_BEATS` intervals).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from hmi.bus.frames import DEAD_AFTER_BEATS, Kind
from hmi.bus.resync import could_be_tag

if TYPE_CHECKING:
    from hmi.bus.transport import ZmqTransport

log = logging.getLogger(__name__)

BROKER_TOPIC = "$sys/broker"
BROKER_LOST = "$sys/broker/lost"


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

    def on_beat(self, payload: Any) -> None:
        """A ``$sys/broker`` heartbeat came through the SUB."""
        self._last_beat = time.monotonic()
        self.sub_live = True
        broker_id = payload.get("id") if isinstance(payload, dict) else None
        lost, self.lost = self.lost, False
        if isinstance(broker_id, str) and broker_id != self.broker_id:
            if self.broker_id:
                log.warning("broker restarted (%s -> %s): resyncing", self.broker_id, broker_id)
            self.hello()  # the welcome triggers the resync
        elif lost and self.broker_id:
            # The same broker, heard again: what was published meanwhile may not have come.
            log.warning("broker %s back: resyncing", self.broker_id)
            self.resync_all()
            self.connected.set()

    def on_welcome(self, payload: Any) -> None:
        """The broker answered a hello."""
        transport = self._transport
        broker_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(broker_id, str):
            transport.drop("welcome")
            return
        restarted = bool(self.broker_id) and broker_id != self.broker_id
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
            now = time.monotonic()
            if transport.resync.asked:
                transport.resync.expire(now)
            if not self.lost and now - self._last_beat > self.broker_timeout:
                log.warning("broker silent for %.1f s", self.broker_timeout)
                self.lost = True
                self.sub_live = False
                transport.resync.forget()
                self.connected.clear()
                transport.bus.deliver(BROKER_LOST, {"broker": self.broker_id})
