"""A node's link to its broker, as an operator or someone reading the log needs it.

One state (:class:`LinkState`), one line per change (docs/bus-protocol.md, "Link state"):

- ``waiting``: no welcome yet. The broker is not there (yet), or does not answer: a wrong
  address, or a CURVE handshake that fails (a wrong broker public key, CURVE on one side).
- ``connected``: the broker welcomed this node and is heard.
- ``lost``: the broker was heard, then silent for its timeout (``$sys/broker/lost``).
- ``refused``: a CURVE broker refused this node's key (not admitted by its policy).

The node keeps trying in every state, and never raises for it. ZeroMQ reconnects by itself,
except after a handshake the broker refused: libzmq then gives that connection up for good
(measured, libzmq 4.3.5: no further attempt, whatever the reconnect interval). So
:class:`HandshakeWatch` reads the DEALER's socket monitor and, after a refusal, connects
again itself, with a growing pause (the broker logs each refused attempt): a key admitted
later (the policy changed, the broker restarted with another) gets the node in without a
restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

import zmq
from zmq.utils.monitor import parse_monitor_message

from hmi.bus.net.zmqio import Reader

log = logging.getLogger(__name__)

#: ``listener(state, detail)``: a state of :class:`LinkState` (a ``str``) and one line of text
LinkListener = Callable[[str, str], None]

#: seconds without a welcome before ``waiting`` is logged (a broker that is there answers
#: within milliseconds; a node started before its broker says so once, after this)
WAITING_GRACE = 1.0
#: the pause before connecting again after a refused handshake, doubled up to the maximum
RETRY_FIRST, RETRY_MAX = 0.5, 10.0

_FAILED_NO_DETAIL = int(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
_FAILED_PROTOCOL = int(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
_FAILED_AUTH = int(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
_SUCCEEDED = int(zmq.EVENT_HANDSHAKE_SUCCEEDED)
_EVENTS = _FAILED_NO_DETAIL | _FAILED_PROTOCOL | _FAILED_AUTH | _SUCCEEDED


def _handshake_fails(note: str = "") -> str:
    return (
        "no answer yet (a connection is made, but the security handshake fails: is the "
        f"broker's public key right, and do both sides use CURVE?{note})"
    )


class LinkState(StrEnum):
    """The state of a node's link to its broker (see the module docstring)."""

    WAITING = "waiting"
    CONNECTED = "connected"
    LOST = "lost"
    REFUSED = "refused"


class Link:
    """The state of the link to the broker at ``front``; tells ``listeners`` each change.

    ``listeners`` are called with ``(state, detail)`` whenever either changes (``detail``:
    one line for a status bar, e.g. ``"broker tcp://h:5570 (id 3f2a) silent for 3.5 s"``),
    from the loop, after the change is logged. A listener that raises is logged and the
    others are still called. Each change is logged once, as ``bus: <detail>`` (``; still
    trying`` unless connected): WARNING, except a first connection that nothing went wrong
    before (INFO; a new broker, a broker back are WARNING). The first ``waiting`` is logged
    only after ``grace`` seconds.
    """

    def __init__(self, front: str, *, grace: float = WAITING_GRACE) -> None:
        self.front = front
        self.state = LinkState.WAITING
        self.detail = f"waiting for broker {front}: no answer yet"
        self.listeners: list[LinkListener] = []
        self._grace = grace
        self._timer: asyncio.TimerHandle | None = None
        #: the first wait is not logged before the grace is over
        self._quiet = True
        #: a first connection that nothing went wrong before is the only INFO line
        self._routine = True

    def start(self) -> None:
        """Start the grace period of the first wait (inside the running loop)."""
        self._timer = asyncio.get_running_loop().call_later(self._grace, self._grace_over)

    def close(self) -> None:
        """Stop the grace timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- the changes ------------------------------------------------------------------------
    def waiting(self, why: str = "no answer yet") -> None:
        """No welcome yet: ``why`` says what is known (e.g. the handshake fails)."""
        self._set(LinkState.WAITING, f"waiting for broker {self.front}: {why}")

    def connected(self, broker_id: str, note: str = "") -> None:
        """Welcomed (or heard again) by broker ``broker_id``; ``note`` follows the id."""
        self._set(LinkState.CONNECTED, f"connected to broker {self.front} (id {broker_id}){note}")

    def lost(self, broker_id: str, silent: float) -> None:
        """The broker has not been heard for ``silent`` seconds (while it refuses this
        node's key, that refusal is what the operator needs to know: it stays)."""
        if self.state is not LinkState.REFUSED:
            detail = f"broker {self.front} (id {broker_id}) silent for {silent:.1f} s"
            self._set(LinkState.LOST, detail)

    def refused(self, why: str = "not admitted by its policy") -> None:
        """The broker refused this node's CURVE key."""
        self._set(LinkState.REFUSED, f"broker {self.front} refused this node's CURVE key ({why})")

    def handshake_failed(self, why: str = "") -> None:
        """A handshake failed without the broker refusing the key: no answer, as far as
        this node can tell. A lost broker stays lost (it was there, and is not back)."""
        if self.state is not LinkState.LOST and self.state is not LinkState.CONNECTED:
            self.waiting(why or _handshake_fails())

    # -- inside ----------------------------------------------------------------------------
    def _set(self, state: LinkState, detail: str) -> None:
        if state is self.state and detail == self.detail:
            return
        self.state, self.detail = state, detail
        if state is not LinkState.WAITING:
            self._quiet = False
        if not self._quiet:
            self._log()
        for listener in list(self.listeners):
            try:
                listener(state.value, detail)
            except Exception:
                log.exception("bus: a link listener failed on %s", state.value)

    def _grace_over(self) -> None:
        self._timer = None
        if self._quiet:
            self._quiet = False
            if self.state is LinkState.WAITING:
                self._log()

    def _log(self) -> None:
        if self.state is LinkState.CONNECTED:
            log.log(logging.INFO if self._routine else logging.WARNING, "bus: %s", self.detail)
        else:
            log.warning("bus: %s; still trying", self.detail)
        self._routine = False


class HandshakeWatch:
    """Reads the socket monitor of a node's DEALER without blocking the loop: handshake
    failures become link states, and after a refused one (which libzmq gives up on) the
    node's ``connections`` are made again after a pause. ``again()`` is called after every
    handshake that succeeds but the first one (a reconnection: the queue of a dropped
    connection, a hello with it, may be gone, and a broker that keeps node ids to their
    connections may not have taken the new one yet: the node says hello)."""

    def __init__(
        self,
        link: Link,
        sock: zmq.Socket[bytes],
        connections: Sequence[tuple[zmq.Socket[bytes], str]],
        again: Callable[[], None],
    ) -> None:
        self._link = link
        self._sock = sock
        self._connections = list(connections)
        self._again = again
        self._monitor: zmq.Socket[bytes] = sock.get_monitor_socket(_EVENTS)
        self._reader = Reader(self._monitor, self._on_event)
        self._pause = RETRY_FIRST
        self._retry: asyncio.TimerHandle | None = None
        self._closed = False
        #: handshake outcomes seen, by name (tests, diagnostics)
        self.counts: dict[str, int] = {}

    def start(self) -> None:
        """Begin reading the monitor (inside the running loop)."""
        self._reader.start()

    def _on_event(self, frames: list[Any]) -> None:
        try:
            event = parse_monitor_message(frames)
        except Exception:  # not a monitor message: nothing to learn from it
            return
        kind, value = int(event["event"]), int(event["value"])
        if kind == _SUCCEEDED:
            first = not self.counts
            self._count("succeeded")
            self._pause = RETRY_FIRST
            if not first:
                self._again()
        elif kind == _FAILED_AUTH:
            self._count("refused")
            # ZAP's status: 400 is "not admitted"; 300 and 500 are the broker's trouble
            self._link.refused("not admitted by its policy" if value == 400 else f"ZAP {value}")
            self._schedule()
        elif kind == _FAILED_PROTOCOL:
            self._count("protocol")
            self._link.handshake_failed(_handshake_fails(f" ZeroMQ error {value:#x}"))
            self._schedule()
        elif kind == _FAILED_NO_DETAIL:
            self._count("failed")
            self._link.handshake_failed()  # ZeroMQ tries again by itself (measured)

    def _count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def _schedule(self) -> None:
        if self._retry is None and not self._closed:
            loop = asyncio.get_running_loop()
            self._retry = loop.call_later(self._pause, self._reconnect)
            self._pause = min(RETRY_MAX, self._pause * 2)

    def _reconnect(self) -> None:
        self._retry = None
        if self._closed:
            return
        log.debug("bus: connecting to %s again after a refused handshake", self._link.front)
        self._connect_again(self._connections)

    def reconnect_first(self) -> None:
        """Connect the first of the ``connections`` (the DEALER) again, now."""
        if not self._closed:
            self._connect_again(self._connections[:1])

    @staticmethod
    def _connect_again(connections: Sequence[tuple[zmq.Socket[bytes], str]]) -> None:
        # (the hello follows when the new handshake succeeds: see _on_event)
        for sock, endpoint in connections:
            with contextlib.suppress(zmq.ZMQError):  # libzmq may have dropped it already
                sock.disconnect(endpoint)
            sock.connect(endpoint)

    def close(self) -> None:
        """Stop reading and retrying; close the monitor (before the DEALER is closed)."""
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._reader.close()
        with contextlib.suppress(zmq.ZMQError):
            self._sock.disable_monitor()
        self._monitor.close(linger=0)
