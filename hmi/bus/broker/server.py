"""The broker: routes between nodes, caches tag values, counts, watches heartbeats.

Front: a ROUTER that every node's DEALER talks to (RPC, hello, heartbeats, snapshot
requests, and publications that must be checked). Back: an XPUB that nodes' SUB sockets
subscribe to; ZeroMQ does the prefix matching in C. Publications reach the back through
:class:`hmi.bus.broker.forwarder.Forwarder`.

Two paths for publications (docs/bus-protocol.md, "Fast path"):

- *fast* (a broker without a client policy, the default): nodes publish straight into
  libzmq's proxy (a C thread of its own); the broker reads a tap of the back behind it and
  keeps the last-value cache, the statistics and the sequence checks from there, without
  being in the way.
- *checked* (a CURVE broker with a policy, or ``fast_path=False``): every publication
  comes through the front, where its header, sizes and the sender's publish rights are
  checked before the broker sends it on the back itself; refused and malformed ones never
  go further.

The broker never decodes publications on the way: ``tag/`` batches are decoded later, in
bulk, when merged into the last-value cache (see :mod:`hmi.bus.broker.lvc`). Control messages
(hello, snapshot requests, RPC, ...) are decoded into their typed messages and acted on
by :class:`hmi.bus.broker.brokercontrol.ControlPlane`. Which nodes are alive and which RPC
targets they serve is kept by :class:`hmi.bus.broker.roster.Roster`; who may say what on the
front (a sender is its connection's routing id, with CURVE its key's; ``$sys/`` is the
broker's; replies answer routed requests) by :mod:`hmi.bus.broker.doors`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import zmq

from hmi.bus.broker.brokercontrol import SENDER, ControlPlane
from hmi.bus.broker.brokerstats import BrokerStats, NodeInfo, release_memory, report
from hmi.bus.broker.doors import Doors
from hmi.bus.broker.forwarder import Forwarder, fast_bind, lower_priority
from hmi.bus.broker.front import Front
from hmi.bus.broker.ledger import Ledger
from hmi.bus.broker.lvc import MAX_ENTRIES, LastValueCache
from hmi.bus.broker.roster import Roster, some
from hmi.bus.broker.tapc import front_reader, tap_reader
from hmi.bus.net.auth import Policy, ZapHandler
from hmi.bus.net.discovery import DEFAULT_KEY, Beacon, check_beacon, front_is_local
from hmi.bus.net.keys import KeyPair
from hmi.bus.net.zmqio import BatchReader, open_context, send_frames
from hmi.bus.wire.address import BrokerAddress, remove_state, write_state
from hmi.bus.wire.control import BrokerBeat, pack_control
from hmi.bus.wire.frames import MAX_PAYLOAD, Kind, pack_header, pack_payload

log = logging.getLogger(__name__)

#: messages of the front handled per batch (a wake-up reads at most this many first)
FRONT_BATCH = 500
#: the tap is read this often (s): behind the proxy, in batches (snapshots catch up first)
TAP_PERIOD = 0.005
#: how much ``hmi broker`` lowers the priority (nice) of its Python thread on the fast path
BROKER_NICE = 5
#: with a policy, libzmq checks that the front's connections are alive this often (ms),
#: and closes one silent for ZMTP_TIMEOUT_MS: a node id held by a connection that is
#: gone is free again for its node's new one (see start(): no handover)
ZMTP_HEARTBEAT_MS, ZMTP_TIMEOUT_MS = 1000, 5000
#: seconds the broker keeps what it knows of a node that is gone (not alive: dead, or
#: silent without a hello), and the cached topics of a publisher gone that long
#: (``hmi broker --forget-after``)
FORGET_AFTER = 3600.0
#: topics of its own messages the broker numbers at most (past it they start again at 1)
MAX_OWN_TOPICS = 100_000


class Broker:
    """A running broker; ``await start()``, then ``await close()`` (or ``serve()``)."""

    def __init__(
        self,
        address: BrokerAddress | str = "tcp://127.0.0.1:5570",
        *,
        heartbeat: float = 1.0,
        dead_after: float | None = None,
        stats_interval: float = 1.0,
        secret: KeyPair | None = None,
        policy: Policy | None = None,
        write_state_file: bool = True,
        beacon_port: int | None = None,
        beacon_key: str = DEFAULT_KEY,
        beacon_host: str | None = None,
        hwm: int = 100_000,
        fast_path: bool = True,
        nice: int = 0,
        on_stats: Callable[[dict[str, Any]], None] | None = None,
        max_cache_entries: int = MAX_ENTRIES,
        forget_after: float = FORGET_AFTER,
    ) -> None:
        if isinstance(address, str):
            address = BrokerAddress.parse(address)
        if secret is not None and not address.server_key:
            address = BrokerAddress(address.front, address.back, secret.public)
        self.address = address
        if beacon_port is not None:
            # the default (public) discovery key is for loopback only: refused otherwise
            check_beacon(address, beacon_key)
        if beacon_host is None:
            beacon_host = "127.0.0.1" if front_is_local(address) else "0.0.0.0"
        self.id = uuid.uuid4().hex[:12]
        self.heartbeat = heartbeat
        self.stats_interval = stats_interval
        self.secret = secret
        self.policy = policy
        self.write_state_file = write_state_file
        self.beacon_port = beacon_port
        self.beacon_key = beacon_key
        self.beacon_host = beacon_host
        self.hwm = hwm
        #: publications go straight into the proxy (only without a client policy)
        self.fast_path = fast_path and policy is None
        #: on the fast path, lower the priority of the thread running the broker by this
        #: much (see start(); for a process of its own, as ``hmi broker``: BROKER_NICE)
        self.nice = nice
        self.on_stats = on_stats
        #: seconds before what is known of a node gone is forgotten (see FORGET_AFTER)
        self.forget_after = forget_after
        #: last values (at most ``max_cache_entries``), gaps and statistics
        self.ledger = Ledger(SENDER, max_cache_entries)
        self.stats: BrokerStats = self.ledger.stats
        self.cache: LastValueCache = self.ledger.cache
        #: the nodes, their RPC targets, who is alive (``dead_after``: silent seconds before
        #: any node is dead; None: DEAD_AFTER_BEATS of its own heartbeat interval)
        self.roster = Roster(heartbeat, dead_after, self.ledger.senders)
        self.roster.evict = self.forget
        #: nodes forgotten, gone for ``forget_after`` (or for a new one, the roster full)
        self.forgotten = 0
        self.nodes: dict[bytes, NodeInfo] = self.roster.nodes
        self.targets: dict[str, bytes] = self.roster.targets
        #: who may say what on the front: refusals counted (stats.refused, .refusals)
        self.doors = Doors(policy, self.roster, self.stats)
        #: what the broker does for control messages and RPC (hmi.bus.broker.brokercontrol)
        self.control = ControlPlane(self)
        #: the checks and the hot path of the front (hmi.bus.broker.front)
        self.front = Front(self)
        self.last_report: dict[str, Any] = {}
        self.beacon: Beacon | None = None
        self.zap: ZapHandler | None = None
        self._my_seq: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._tap_reader: BatchReader | None = None
        #: where nodes publish straight into the proxy (told in the welcome), or ''
        self.fast_endpoint = ""
        #: the time (monotonic) of the message or tick being handled
        self.now = time.monotonic()

    # -- life -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the sockets and start routing (inside the running loop)."""
        self._ctx = open_context()
        if self.policy is not None:
            self.zap = ZapHandler(self._ctx, self.policy)
            self.zap.start()
        front = self._ctx.socket(zmq.ROUTER)
        front.router_mandatory = True  # unknown RPC destinations raise instead of vanishing
        if self.policy is None:
            front.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a reconnecting node takes its id back
        else:
            # A node's id belongs to its connection: with handover, any admitted key could
            # connect with a live node's id and silently take over what is routed to it
            # (RPC requests: passwords). Without it the first connection keeps the id, a
            # second one is ignored until it connects again; ZMTP heartbeats close a
            # connection that is gone, and a node whose hello is not answered connects
            # again (hmi.bus.net.session), so a node that reconnects gets its id back.
            front.setsockopt(zmq.ROUTER_HANDOVER, 0)
            front.setsockopt(zmq.HEARTBEAT_IVL, ZMTP_HEARTBEAT_MS)
            front.setsockopt(zmq.HEARTBEAT_TIMEOUT, ZMTP_TIMEOUT_MS)
        front.linger = 0
        front.sndhwm = self.hwm
        front.rcvhwm = self.hwm
        front.setsockopt(zmq.MAXMSGSIZE, MAX_PAYLOAD + 4096)
        self._secure(front)
        try:
            front.bind(self.address.front)
            self._forwarder = Forwarder(
                self._ctx,
                self.address.back,
                hwm=self.hwm,
                secure=self._secure,
                fast_bind=fast_bind(self.address.front) if self.fast_path else (),
                tap=self.fast_path,
            )
        except zmq.ZMQError:
            front.close()
            if self.zap is not None:
                self.zap.close()
            self._ctx.term()
            raise
        self._forwarder.start()
        self.fast_endpoint = self._forwarder.fast_endpoint
        self._front = front
        keyed = self.policy is not None  # (ZAP gives each connection its key)
        # (reply_first: a request is routed before the front is asked for more)
        self._front_reader = front_reader(
            front, self.front.batch, FRONT_BATCH, keyed=keyed, reply_first=True
        )
        self._front_reader.start()
        tap = self._forwarder.tap
        self._tap_reader = (
            tap_reader(tap, self._on_tap, period=TAP_PERIOD, mine=SENDER, layouts=self.cache.usual)
            if tap is not None
            else None
        )
        if self._tap_reader is not None:
            self._tap_reader.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._tick(), name="broker tick")]
        if self.beacon_port is not None:
            self.beacon = Beacon(self.address, self.id, self.beacon_key)
            self.beacon_port = await self.beacon.start(self.beacon_host, self.beacon_port)
        if self.write_state_file:
            write_state(self.address, self.id)
        if self.nice and self.fast_path:
            lower_priority(self.nice)
        log.info(
            "broker %s: front %s, back %s, %s",
            self.id,
            self.address.front,
            self.address.back,
            f"fast path {self.fast_endpoint}" if self.fast_endpoint else "checked path",
        )

    def _secure(self, sock: zmq.Socket[bytes]) -> None:
        """Make a socket on the network a CURVE server (when the broker has a key)."""
        if self.secret is not None:
            sock.curve_server = True
            sock.curve_secretkey = self.secret.secret.encode("ascii")
            sock.curve_publickey = self.secret.public.encode("ascii")

    async def serve(self) -> None:
        """Start and run until cancelled, then close."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop routing and release sockets, beacon and state file."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._front_reader.close()
        if self._tap_reader is not None:
            self._tap_reader.close()
        if self.beacon is not None:
            self.beacon.close()
        if self.write_state_file:
            remove_state(self.id)
        self._front.close()
        self._forwarder.close()
        if self.zap is not None:
            self.zap.close()
        self._ctx.term()

    # -- front: everything nodes send (hmi.bus.broker.front) ------------------------------------
    def _on_front(self, frames: list[bytes], key: str) -> None:
        """One message of the front, ``[routing id, topic, header, payload]`` with the CURVE
        ``key`` of its connection ('' without CURVE), at ``now`` (tests)."""
        self.front.handle([[*frames, key] if len(frames) == 4 else []])

    @property
    def tapped(self) -> bool:
        """True when a tap behind the proxy records publications (the fast path)."""
        return self._tap_reader is not None

    @property
    def outlet(self) -> zmq.Socket[bytes]:
        """Where the broker sends publications to the subscribers (see :meth:`_forward`)."""
        return self._forwarder.inlet

    def _drop(self, reason: str) -> None:
        self.stats.drops[reason] += 1

    def _on_tap(self, messages: list[list[bytes]]) -> None:
        self.ledger.record_read(messages, self.now)

    def _catch_up(self) -> None:
        """Account for what the tap holds now: the cache then has everything forwarded."""
        if self._tap_reader is not None:
            self._tap_reader.drain()

    def _forward(self, frames: list[bytes]) -> None:
        try:
            self._forwarder.publish(frames)
        except zmq.Again:
            self._drop("hwm")

    def _route(self, ident: bytes, frames: list[bytes]) -> bool:
        try:
            send_frames(self._front, [ident, *frames])
        except zmq.ZMQError:  # EHOSTUNREACH (gone) or EAGAIN (full)
            self._drop("unroutable")
            return False
        finally:
            self._front_reader.kick()
        return True

    def _publish(self, topic: str, payload_b: bytes) -> None:
        """Publish the broker's own message (``payload_b``: its encoded payload)."""
        seq = self._my_seq.get(topic)
        if seq is None and len(self._my_seq) >= MAX_OWN_TOPICS:
            self._my_seq.clear()  # (receivers see no gap in a number that starts again)
        seq = (seq or 0) + 1
        self._my_seq[topic] = seq
        header = pack_header(Kind.PUB, SENDER, seq, time.time())
        self._forward([topic.encode(), header, payload_b])

    # -- periodic: heartbeats, deaths, statistics, forgetting -------------------------------
    def _watch(self, now: float) -> None:
        """Nodes silent past their limit: dead (those that said hello), or no longer alive
        (those that did not); requests waiting too long for replies are forgotten."""
        for node in self.roster.silent(now):
            log.warning("node %s silent for %.1f s: dead", node.sender, self.limit(node))
            self.control.gone(node, "silent")
        quiet = self.roster.quiet(now)
        if quiet:  # (one line however many: a fuzzer makes thousands of such nodes)
            log.info("without a hello, silent: no longer alive: %s", some(quiet))
        self.doors.calls.expire(now)

    def _forget_gone(self, now: float) -> None:
        """Forget the nodes gone for ``forget_after`` seconds, and the cached topics of
        publishers gone that long (docs/bus-protocol.md, "Bounds")."""
        gone = self.roster.gone(now, self.forget_after)
        for node in gone:
            self.forget(node)
        if gone:  # (one line however many: a fuzzer makes thousands of nodes)
            log.info("gone for %.0f s, forgotten: %s", self.forget_after, some(gone))
        self.ledger.purge()
        self.cache.forget_gone(now, self.roster.alive_sender, self.forget_after)
        if self.cache.refused:
            self.stats.drops["cache_full"] = self.cache.refused
        release_memory()

    def forget(self, node: NodeInfo) -> None:
        """Forget ``node`` (not alive): its place in the roster, the claims it waited with,
        its calls waiting for replies, its sequence numbers, the numbers of the broker's
        messages about it. Its cached topics go when their publisher has been gone
        ``forget_after`` (:meth:`LastValueCache.forget_gone`)."""
        self.roster.leave(node)
        self.doors.calls.forget(node.ident)
        self.ledger.forget(node.sender)
        for what in ("alive", "dead"):
            self._my_seq.pop(f"$sys/node/{node.sender}/{what}", None)
        self.forgotten += 1

    def limit(self, node: NodeInfo) -> float:
        """Silent seconds before ``node`` is dead (see :meth:`Roster.limit`)."""
        return self.roster.limit(node)

    async def _tick(self) -> None:
        next_stats = time.monotonic() + self.stats_interval
        last_stats = time.monotonic()
        next_beat = 0.0
        while True:
            now = self.now = time.monotonic()
            if now >= next_beat:
                beat = BrokerBeat(self.id, time.time(), self.heartbeat)
                self._publish("$sys/broker", pack_control(beat))
                next_beat = now + min(self.heartbeat, self.stats_interval) - 0.001
            self._watch(now)
            if now >= next_stats:
                self._forget_gone(now)
                self.stats.roll(max(1e-3, now - last_stats))
                last_stats = now
                next_stats = now + self.stats_interval
                for node in self.nodes.values():
                    node.sample_usage()
                if self.cache.bad:
                    self.stats.drops["tag_payload"] = self.cache.bad
                extra = {
                    "rpc_pending": len(self.doors.calls),
                    "cached_tags": len(self.cache),
                    "cached_topics": self.cache.topics,
                    "forgotten": {"nodes": self.forgotten, "topics": self.cache.forgotten},
                    "targets": sorted(self.targets),
                    "zap": dict(self.zap.counts) if self.zap is not None else {},
                }
                self.last_report = report(self.stats, list(self.nodes.values()), self.id, extra)
                self._publish("$sys/stats", pack_payload(self.last_report))
                if self.on_stats is not None:
                    self.on_stats(self.last_report)
            # deaths are looked for at least as often as the fastest node beats
            await asyncio.sleep(self.roster.period(min(self.heartbeat, self.stats_interval)))
