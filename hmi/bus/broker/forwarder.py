"""The broker's data path in C: ``zmq.proxy`` from an XSUB inbox to the XPUB back.

Measured on the bench (docs/bus-protocol.md, "Fast path"): routing each publication
through Python costs ~6.5 us per message, several times what libzmq's proxy costs. So
publications do not pass through Python on their way to subscribers:

```
 node XPUB --(fast endpoint)--+
 broker PUB ----(inproc)------+--> XSUB inbox == zmq.proxy ==> XPUB back --> nodes' SUB
                                   (one C thread)               +--(inproc)--> tap SUB
```

- The proxy runs in a thread of its own (``zmq.proxy_steerable`` releases the GIL) and
  is stopped through its control socket.
- The broker publishes its own messages (``$sys/``, degraded tag batches, checked
  publications from the front) through an inproc PUB into the same inbox: only the proxy
  thread touches the XSUB and XPUB sockets.
- The *tap* is a SUB on the back subscribed to everything: the broker reads it to keep the
  last-value cache and the statistics, behind the proxy and never in its way (it only
  loses messages at its high-water mark, which shows as sequence gaps). Its subscription
  to everything also makes every publisher send everything, so nothing the cache needs is
  filtered away at the source.

A broker without a fast path (a client policy: every publication is checked on the
front, in the broker's thread) has nothing for a proxy to do that the broker's thread
could not do itself: there the broker sends on the XPUB back directly (*direct*), which
spares each publication a hop through an inproc pipe and a wake-up of the proxy's thread
(measured on 2 cores: the checked path's broker used ~20% less CPU per publication, and
forwarded ~12% more). The XPUB's subscription messages are read and dropped every
:data:`SUBSCRIPTIONS_PERIOD` (libzmq applies them itself; unread, they would pile up).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable

import zmq

from hmi.bus.net.zmqio import Reader, send_frames
from hmi.bus.wire.frames import MAX_PAYLOAD

log = logging.getLogger(__name__)

SocketSetup = Callable[[zmq.Socket[bytes]], None]
#: seconds between two reads of the back's subscription messages (direct: see above)
SUBSCRIPTIONS_PERIOD = 0.005


class Forwarder:
    """XSUB inbox -> XPUB back in a C thread, with an inproc inlet and a tap; or, with
    neither ``fast_bind`` nor ``tap``, the XPUB back alone, sent on directly (``direct``).

    ``fast_bind``: also bind the inbox on the first of these endpoints that is free (nodes'
    XPUBs publish there directly); ``tap``: keep a SUB on the back subscribed to everything.
    ``secure`` applies the broker's CURVE server options to the sockets on the network.
    """

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        back: str,
        *,
        hwm: int,
        secure: SocketSetup,
        fast_bind: tuple[str, ...] = (),
        tap: bool = False,
    ) -> None:
        self._ctx = ctx
        #: no proxy: the broker's thread sends on the back itself
        self.direct = not fast_bind and not tap
        self._subscriptions: Reader | None = None
        name = uuid.uuid4().hex[:12]
        self._inlet_at = f"inproc://hmi-broker-{name}-in"
        self._tap_at = f"inproc://hmi-broker-{name}-tap"
        self._control_at = f"inproc://hmi-broker-{name}-control"
        self.fast_endpoint = ""
        sockets: list[zmq.Socket[bytes]] = []
        self.tap: zmq.Socket[bytes] | None = None
        if self.direct:
            self._out = self.inlet = self._socket(zmq.XPUB, hwm, sockets)
            try:
                secure(self._out)
                self._out.bind(back)
            except zmq.ZMQError:
                self._out.close()
                raise
            return
        try:
            inbox = self._socket(zmq.XSUB, hwm, sockets)
            out = self._socket(zmq.XPUB, hwm, sockets)
            inbox.bind(self._inlet_at)
            secure(out)
            out.bind(back)
            if fast_bind:
                # The same socket options as the front: nothing new is reachable that the
                # front does not already accept.
                secure(inbox)
                self.fast_endpoint = _bind_first(inbox, fast_bind)
            if tap:
                out.bind(self._tap_at)
            self.inlet = self._socket(zmq.PUB, hwm, sockets)
            # At the high-water mark a send raises zmq.Again (counted), never drops silently.
            self.inlet.setsockopt(zmq.XPUB_NODROP, 1)
            self.inlet.connect(self._inlet_at)
            if tap:
                self.tap = self._socket(zmq.SUB, hwm, sockets)
                self.tap.connect(self._tap_at)
                self.tap.subscribe(b"")
            control = self._socket(zmq.PAIR, 0, sockets)
            control.bind(self._control_at)
            self._control = self._socket(zmq.PAIR, 0, sockets)
            self._control.connect(self._control_at)
        except zmq.ZMQError:
            for sock in sockets:
                sock.close()
            raise
        self._inbox, self._out, self._control_end = inbox, out, control
        self._thread = threading.Thread(target=self._run, name="hmi broker proxy", daemon=True)

    def _socket(self, kind: int, hwm: int, sockets: list[zmq.Socket[bytes]]) -> zmq.Socket[bytes]:
        sock = self._ctx.socket(kind)
        sockets.append(sock)
        sock.linger = 0
        if hwm:
            sock.sndhwm = hwm
            sock.rcvhwm = hwm
            sock.setsockopt(zmq.MAXMSGSIZE, MAX_PAYLOAD + 4096)
        return sock

    def start(self) -> None:
        """Start forwarding (inside the running loop)."""
        if self.direct:
            self._subscriptions = Reader(self._out, _ignore, period=SUBSCRIPTIONS_PERIOD)
            self._subscriptions.start()
            return
        self._thread.start()

    def _run(self) -> None:
        # The proxy's sockets belong to this thread: it closes them when the proxy ends.
        try:
            zmq.proxy_steerable(self._inbox, self._out, None, self._control_end)
        except zmq.ZMQError as exc:
            if exc.errno != zmq.ETERM:
                log.error("broker proxy stopped: %s", exc)
        finally:
            self._inbox.close()
            self._out.close()
            self._control_end.close()

    def publish(self, frames: list[bytes]) -> None:
        """Send a message to the subscribers (raises zmq.Again at the high-water mark)."""
        send_frames(self.inlet, frames)

    def close(self) -> None:
        """Stop the proxy thread and close every socket."""
        if self.direct:
            if self._subscriptions is not None:
                self._subscriptions.close()
            self._out.close()
            return
        if self._thread.is_alive():
            self._control.send(b"TERMINATE")
            self._thread.join(5)
        elif self._thread.ident is None:  # never started
            for sock in (self._inbox, self._out, self._control_end):
                sock.close()
        for mine in (self.inlet, self.tap, self._control):
            if mine is not None:
                mine.close()


def _ignore(frames: list[bytes]) -> None:
    """A subscription message of the back (libzmq applied it already)."""


def _bind_first(sock: zmq.Socket[bytes], endpoints: tuple[str, ...]) -> str:
    """Bind the first endpoint that works; returns where (raises the last error)."""
    for i, endpoint in enumerate(endpoints):
        try:
            sock.bind(endpoint)
        except zmq.ZMQError:
            if i == len(endpoints) - 1:
                raise
            continue
        break
    bound = sock.getsockopt(zmq.LAST_ENDPOINT)
    return bound.decode() if isinstance(bound, bytes) else str(bound)


def fast_bind(front: str) -> tuple[str, ...]:
    """Where the inbox of the fast path binds, by preference: next to the front.

    tcp: the front's port + 2 (a restarted broker gets the same one, so nodes keep their
    connection), else any free port; ipc: ``PATH.pub``.
    """
    if front.startswith("tcp://"):
        host, _, port = front.rpartition(":")
        return (f"{host}:{int(port) + 2}", f"{host}:*") if int(port) < 65533 else (f"{host}:*",)
    if front.endswith(".front"):
        return (front[: -len(".front")] + ".pub",)
    return (front + ".pub",)


def lower_priority(by: int) -> None:
    """Lower the priority of the calling thread (Linux: nice is per thread).

    On the fast path this thread only keeps books (cache, statistics) behind the proxy,
    and answers control messages: under CPU contention the proxy thread (started before,
    so it keeps its priority) and the nodes should come first. Measured on 2 busy cores:
    pub/sub ratio 0.69 -> 0.80, batched 0.83 -> 1.00 M updates/s.
    """
    setpriority = getattr(os, "setpriority", None)
    if setpriority is None:  # not on this platform
        return
    tid = threading.get_native_id()
    try:
        setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + by))
    except OSError as exc:
        log.warning("could not lower the broker's priority: %s", exc)
