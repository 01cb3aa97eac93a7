"""The ZeroMQ transport of a node: DEALER to the broker's front, SUB from its back.

Everything a node sends (publications, RPC, hello, heartbeats, snapshot requests) goes
through one DEALER whose routing id is the node id, so the broker can answer and route RPC
replies to it. Publications come back through a SUB socket. Each wake-up of the loop
drains a socket with non-blocking reads until it is empty (one ``await`` per message is
5x slower). Sockets are created inside the running loop (qasync or plain asyncio).

While a received message is delivered to the local subscribers,
:attr:`ZmqTransport.current_sender` is the node id it came from (its header's sender,
which a broker that checks its front has verified: docs/bus-protocol.md, "Who is
talking"): a subscriber that needs to know who sent a command reads it there. It is a
context variable, so the tasks a delivery starts (async callbacks, async RPC methods)
keep it for their whole run. What the node receives is checked and delivered by
:class:`hmi.bus.net.receiver.Receiver`, the calls it makes and serves by
:class:`hmi.bus.net.noderpc.NodeRpc`, its publications sent by
:class:`hmi.bus.net.publisher.Publisher`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import zmq

from hmi.bus.net.auth import serves
from hmi.bus.net.discovery import DISCOVERY_PORT, resolve
from hmi.bus.net.link import HandshakeWatch, Link, LinkListener
from hmi.bus.net.noderpc import NodeRpc
from hmi.bus.net.probes import Prober
from hmi.bus.net.publisher import Publisher
from hmi.bus.net.receiver import SNAPSHOT_TOPIC, Receiver
from hmi.bus.net.resync import Resync, could_be_tag
from hmi.bus.net.session import BROKER_TOPIC, BrokerSession
from hmi.bus.net.zmqio import Reader, node_socket, open_context, send_frames
from hmi.bus.wire.address import BrokerAddress
from hmi.bus.wire.control import Expose, pack_control
from hmi.bus.wire.frames import (
    Kind,
    pack_header,
)

if TYPE_CHECKING:
    from hmi.bus.local.bus import Bus
    from hmi.bus.net.keys import ClientKeys

log = logging.getLogger(__name__)


class ZmqTransport:
    """A node's connection to a broker; :func:`hmi.bus.connect` makes one."""

    def __init__(
        self,
        bus: Bus,
        address: BrokerAddress,
        *,
        node_id: str | None = None,
        heartbeat: float = 1.0,
        broker_timeout: float | None = None,
        keys: ClientKeys | None = None,
        hwm: int = 100_000,
        fast_path: bool = True,
    ) -> None:
        self.bus = bus
        self.address = address
        self.node_id = node_id or f"{bus.name or 'node'}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        #: the RPC targets the broker's policy lets this node's key serve (its welcome's;
        #: None: any), and the targets said to be outside them
        self._may_serve: tuple[str, ...] | None = None
        self._said_serve: set[str] = set()
        #: hello, welcome and heartbeats: who the broker is and whether it is heard
        self.session = BrokerSession(self, heartbeat=heartbeat, broker_timeout=broker_timeout)
        self.connected = self.session.connected
        #: the link's state for operators and logs (see hmi.bus.net.link)
        self.link = Link(address.front)
        #: ``listener(state, detail)`` for every change of the link (see :attr:`link_state`)
        self.on_link: list[LinkListener] = self.link.listeners
        self.keys = keys
        self.hwm = hwm
        #: snapshot requests, the probes before them, and the live batches held meanwhile
        self.prober = Prober(self)
        #: what this node receives, and the counts of what it drops (hmi.bus.net.receiver)
        self.receiver = Receiver(self)
        self.drops: Counter[str] = self.receiver.drops
        #: the node id of the received message being delivered (see current_sender): a
        #: context variable, one per transport, so that the tasks a delivery starts keep it
        self.sender_var: ContextVar[str | None] = self.receiver.sender_var
        #: the SUB's and the DEALER's messages (the receiver's, bound once: a hot path)
        self._on_sub = self.receiver.on_sub
        self._on_dealer = self.receiver.on_dealer
        self.resync = Resync(
            self._request_snapshot, self.deliver_from, self.prober.probe, self.prober.unprobe
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        #: the calls this node makes and serves
        self.rpc = NodeRpc(self)
        #: sequence numbers, retained batches, and the fast path or the front
        self.publisher = Publisher(self, fast_path=fast_path)

    # -- life -----------------------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        bus: Bus,
        address: str | BrokerAddress | None = None,
        *,
        discovery_key: str | None = None,
        discovery_port: int = DISCOVERY_PORT,
        discovery_hosts: tuple[str, ...] = ("127.0.0.1", "255.255.255.255"),
        discover: bool = True,
        wait: float | None = 5.0,
        **options: Any,
    ) -> ZmqTransport:
        """Find the broker (:func:`hmi.bus.net.discovery.resolve`; ``discover=False``: no UDP
        probe; ``discovery_key``: the plant's, default ``$HMI_DISCOVERY_KEY``, else the
        public default, which probes loopback only), connect, say hello, and wait up to
        ``wait`` seconds for the welcome (then close and raise ConnectionError).
        ``None``: do not wait, never raise: the node joins whenever the broker answers
        (:meth:`wait_connected` waits for it, without a timeout as long as it takes);
        ``math.inf``: wait here as long as it takes. The node keeps trying meanwhile;
        :attr:`link_state` says how it goes."""
        if not isinstance(address, BrokerAddress):
            keys = options.get("keys")
            address, source = await resolve(
                address,
                key=discovery_key,
                port=discovery_port,
                hosts=discovery_hosts,
                server_key=keys.server_key if keys is not None else "",
                discover=discover,
            )
            log.info("broker %s (from %s)", address.front, source)
        transport = cls(bus, address, **options)
        transport._start()
        if wait:
            await transport.session.join(wait)
        return transport

    def _start(self) -> None:
        self._ctx = open_context()
        dealer = node_socket(self._ctx, zmq.DEALER, self.hwm, self.keys)
        dealer.routing_id = self.node_id.encode()
        sub = node_socket(self._ctx, zmq.SUB, self.hwm, self.keys)
        # The monitor comes first, so that it sees the first handshake too.
        self._watch = HandshakeWatch(
            self.link,
            dealer,
            [(dealer, self.address.front), (sub, self.address.back)],
            self._connected_again,
        )
        dealer.connect(self.address.front)
        sub.connect(self.address.back)
        sub.subscribe(BROKER_TOPIC.encode())
        for prefix in self.bus.prefixes:
            sub.subscribe(prefix.encode())
        self._dealer, self._sub = dealer, sub
        self._dealer_sync = dealer
        self._sub_reader = Reader(sub, self._on_sub, three=True)
        # (the broker, its only peer, sends three frames: read without asking after each
        # whether more follow)
        self._dealer_reader = Reader(dealer, self._on_dealer, three=True)
        self._sub_reader.start()
        self._dealer_reader.start()
        self._watch.start()
        self.link.start()
        self.rpc.bind()
        self.prober.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.session.run(), name="bus heartbeat")]
        self.session.hello()

    async def close(self) -> None:
        """Say bye, stop the tasks, close the sockets."""
        if self._closed:
            return
        self._closed = True
        self.session.close()
        self.link.close()
        self.prober.close()
        self.send_control(BROKER_TOPIC, Kind.BYE, None)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._sub_reader.close()
        self._dealer_reader.close()
        self._watch.close()
        self.publisher.close()
        self.rpc.close()
        self._dealer.close()
        self._sub.close()
        self._ctx.term()

    def _connected_again(self) -> None:
        # Connected anew (after a refused handshake, a lost connection): a hello queued on
        # a dropped connection went with it, and the broker may not have taken the new
        # one for this node's id yet (see BrokerSession.rejoined).
        self._sub_reader.kick()
        self.session.rejoined()

    def reconnect_front(self) -> None:
        """Connect the DEALER to the broker's front again (a new connection; a hello
        follows once its handshake succeeds)."""
        self._watch.reconnect_first()

    @property
    def current_sender(self) -> str | None:
        """The node id of the received message being delivered (its header's sender, as
        the broker checked it; ``"$broker"`` for the broker's own), or None: this node's
        own publications, and outside deliveries.

        Also in what a delivery starts: async callbacks, and a served RPC call (the
        caller) with the tasks it starts. What a subscriber publishes meanwhile is
        delivered in the same call (after the message it answers) and sees that sender
        too: a received message never sees None, which means "this node".
        """
        return self.sender_var.get()

    @property
    def link_state(self) -> str:
        """``waiting``, ``connected``, ``lost`` or ``refused`` (see :mod:`hmi.bus.net.link`;
        ``link.detail`` says more, :attr:`on_link` listeners are told each change)."""
        return self.link.state.value

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until the broker has welcomed this node: True, or False after ``timeout``
        seconds (None: no limit) or once closed."""
        return await self.session.wait_connected(timeout)

    def published_tags(self) -> set[str]:
        """The tags this node publishes itself (their values do not come from the broker)."""
        return self.publisher.tags()

    # -- sending --------------------------------------------------------------------------
    def send_control(
        self, topic: str, kind: int, payload: Any, seq: int = 0, flags: int = 0
    ) -> None:
        """Send a message that is not a publication to the broker's front."""
        frames = [
            topic.encode(),
            pack_header(kind, self.node_id, seq, time.time(), flags),
            pack_control(payload),
        ]
        self.send_front(frames)

    @property
    def broker_id(self) -> str:
        """The broker's id, from its welcome ('' until then)."""
        return self.session.broker_id

    @property
    def heartbeat(self) -> float:
        """Seconds between this node's heartbeats."""
        return self.session.heartbeat

    @property
    def broker_timeout(self) -> float:
        """Seconds without a broker heartbeat before the broker is taken for lost."""
        return self.session.broker_timeout

    @property
    def fast_path_ready(self) -> bool:
        """True while publications go straight into the broker's proxy (see fastpub)."""
        return self.publisher.ready

    @property
    def context(self) -> zmq.Context[zmq.Socket[bytes]]:
        """The ZeroMQ context of this node's sockets."""
        return self._ctx

    def call(
        self,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float,
    ) -> Coroutine[Any, Any, Any]:
        """Call a remote RPC target (see :class:`hmi.bus.net.noderpc.NodeRpc`): its
        coroutine, handed over as it is (a coroutine of its own around it cost a frame
        per call)."""
        return self.rpc.call(target, method, args, kwargs, timeout)

    def send_front(self, frames: list[bytes]) -> None:
        """Send a message to the broker's front (at the high-water mark: dropped, counted)."""
        try:
            send_frames(self._dealer_sync, frames)
        except zmq.Again:
            # At the high-water mark: drop and count, never block the loop (ARCHITECTURE).
            self.bus.stats.dropped += 1
            self.drops["hwm"] += 1
        # A send can swallow the socket's read signal, so the socket is asked: at once
        # for an RPC request or reply (a turn of the loop more costs a call more than
        # the question), once the running callback is done for anything else (once for
        # a burst of publications through the front, ~0.7 us each)
        if frames[0][:4] == b"rpc/":
            self._dealer_reader.kick()
        else:
            self._dealer_reader.kick_later()

    def send(self, topic: str, payload: Any) -> None:
        """Publish (called by :meth:`hmi.bus.Bus.publish`)."""
        self.publisher.send(topic, payload)

    def subscribe(self, prefix: str) -> None:
        """Ask the broker for ``prefix`` (and for its cached values)."""
        self._sub.subscribe(prefix.encode())
        self._sub_reader.kick()
        if self.session.broker_id and could_be_tag(prefix):
            self.resync.join([prefix], time.monotonic(), self.session.sub_live)

    def unsubscribe(self, prefix: str) -> None:
        """Stop receiving ``prefix``."""
        self._sub.unsubscribe(prefix.encode())

    def sub_subscribe(self, prefix: str) -> None:
        """Subscribe the SUB to ``prefix`` (no snapshot: for probes)."""
        self._sub.subscribe(prefix.encode())
        self._sub_reader.kick()

    def sub_unsubscribe(self, prefix: str) -> None:
        """Undo :meth:`sub_subscribe`."""
        self._sub.unsubscribe(prefix.encode())

    def expose(self, name: str) -> None:
        """Register RPC target ``name`` with the broker."""
        self._check_serve(name)
        self.send_control(BROKER_TOPIC, Kind.EXPOSE, Expose(name, True))

    def rights_to_serve(self, entries: list[str] | None) -> None:
        """The broker's welcome says which RPC targets this node's key may serve (None:
        any): each target of this node outside it, exposed already or later, is said once
        (the broker routes no call to it; the node looked healthy while it did not)."""
        self._may_serve = tuple(entries) if entries is not None else None
        self._said_serve.clear()
        for name in self.bus.targets:
            self._check_serve(name)

    def _check_serve(self, name: str) -> None:
        allowed = self._may_serve
        if allowed is None or serves(allowed, name) or name in self._said_serve:
            return
        self._said_serve.add(name)
        log.error(
            "node %s: the broker's policy does not let this node's key serve RPC target %r "
            "(it may serve: %s): no call reaches it",
            self.node_id,
            name,
            ", ".join(allowed) or "none",
        )

    def unexpose(self, name: str) -> None:
        """Withdraw RPC target ``name``."""
        self.send_control(BROKER_TOPIC, Kind.EXPOSE, Expose(name, False))

    # -- receiving (hmi.bus.net.receiver) -----------------------------------------------------
    def drop(self, reason: str, detail: str = "") -> None:
        """Count a malformed message; ``detail`` (what is wrong with it) is logged, at
        most one line per reason every 10 s (see hmi.bus.wire.throttle)."""
        self.receiver.drop(reason, detail)

    def deliver_from(self, topic: str, payload: Any, sender: str | None) -> None:
        """Deliver ``payload`` to the local subscribers with :attr:`current_sender` set to
        ``sender`` meanwhile (None: this node's own, or its own news)."""
        self.receiver.deliver_from(topic, payload, sender)

    def deliver_own(self, topic: str, payload: Any) -> None:
        """Deliver this node's own current values of ``topic`` locally again, after any
        live batch held for a snapshot (a node-dead batch of the broker's may be one)."""
        self.receiver.deliver_own(topic, payload)

    def _request_snapshot(self, prefix: str) -> None:
        self.send_control(SNAPSHOT_TOPIC, Kind.SNAPSHOT_REQ, prefix)
