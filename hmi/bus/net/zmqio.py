"""Draining ZeroMQ sockets from any asyncio loop (plain, qasync), without zmq.asyncio.

A ZeroMQ socket's ``FD`` is edge-triggered: it signals once when messages arrive, and is
re-armed when the socket has processed its pending commands, which a read that finds the
socket empty (``zmq.Again``) does, and so does asking it for ``EVENTS``; a send on the same
socket can consume the signal too. So: the reader drains with non-blocking reads until one
raises ``zmq.Again`` (after the first message of a wake-up it asks ``EVENTS`` instead: 1 us
against 3 us for the error, and most wake-ups of an RPC bring one message), and whoever
sends on a socket that is also read calls :meth:`Reader.kick`, which asks ``EVENTS`` and
schedules a read only when a message waits. Measured: one ``await`` per message through
zmq.asyncio costs several times more than this, and its per-call pollers lost wake-ups
under load (RPC replies stuck until the next message); asking instead of scheduling a read
after each request a node sent took the direct RPC's p50 from 199-204 us to 91-168 us.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq
from zmq.backend import Socket as _BackendSocket

from hmi.bus.wire.frames import MAX_PAYLOAD

if TYPE_CHECKING:
    from hmi.bus.net.keys import ClientKeys

log = logging.getLogger(__name__)

# pyzmq's send_multipart/recv_multipart combine IntFlag enums per frame; with plain ints
# and the backend's methods a 3-frame send costs 0.6 us instead of 4.6 us (measured).
_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)
_NOBLOCK_MORE = _NOBLOCK | _SNDMORE
_send: Any = _BackendSocket.send
#: ``raw_send(sock, frame, flags)``: one frame, int flags, no checks (hot paths)
raw_send: Any = _send
_recv: Any = _BackendSocket.recv
#: ``_get(sock, _EVENTS) & _POLLIN``: a message waits (processes the socket's commands, as a
#: read that finds it empty does: its FD signals again for the next one). 1 us where a read
#: that finds the socket empty raises zmq.Again for 3 us (measured; pyzmq builds the error)
_get: Any = _BackendSocket.get
#: the option as pyzmq's enum member, not an int: ``get`` turns any option into its enum
#: first, and an int takes a lookup that cost more than the call itself (1.5 us instead of
#: 2.4 us per call, measured; a reader asks once or twice per wake-up)
_EVENTS = zmq.SocketOption.EVENTS
_POLLIN = int(zmq.POLLIN)


def open_context() -> zmq.Context[zmq.Socket[bytes]]:
    """A ZeroMQ context whose I/O thread does not preempt the thread that feeds it.

    Every send that wakes libzmq's I/O thread made the sending Python thread lose its CPU
    to it at once (Linux wake-up preemption): 20-40 us per send instead of under 1 us,
    measured on 2 cores, which capped concurrent RPC at 25,000-30,000 calls/s.
    ``SCHED_BATCH`` (a normal, unprivileged policy) makes the I/O thread wait for a free CPU
    or for the loop to block instead: 50,000-85,000 calls/s, and the median latency of a
    single call did not get worse (163-166 us vs 171-177 us, alternating runs).
    """
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is not None:
        with contextlib.suppress(zmq.ZMQError, AttributeError):  # not on this platform
            ctx.set(zmq.THREAD_SCHED_POLICY, batch)
    return ctx


def node_socket(
    ctx: zmq.Context[zmq.Socket[bytes]], kind: int, hwm: int, keys: ClientKeys | None
) -> zmq.Socket[bytes]:
    """A socket of a node to its broker: linger 200 ms (its last words, a bye, still go
    out on close), high-water marks ``hwm``, the largest message the bus allows, and the
    node's CURVE keys if it has some (before it connects)."""
    sock = ctx.socket(kind)
    sock.linger = 200
    sock.sndhwm = hwm
    sock.rcvhwm = hwm
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_PAYLOAD + 4096)
    if keys is not None:
        keys.apply(sock)
    return sock


def send_frames(sock: zmq.Socket[bytes], frames: list[bytes]) -> None:
    """Send a multipart message without blocking (raises zmq.Again at the high-water mark).

    ZeroMQ queues multipart messages atomically: only the first frame can hit EAGAIN.
    """
    last = len(frames) - 1
    if last == 2:
        _send(sock, frames[0], _NOBLOCK_MORE)
        _send(sock, frames[1], _NOBLOCK_MORE)
        _send(sock, frames[2], _NOBLOCK)
        return
    for i in range(last):
        _send(sock, frames[i], _NOBLOCK_MORE)
    _send(sock, frames[last], _NOBLOCK)


def recv_frames(sock: zmq.Socket[bytes]) -> list[bytes]:
    """Receive one multipart message without blocking (raises zmq.Again when empty).

    Frames are received as ``zmq.Frame`` (whose ``more`` libzmq fills in C) and copied to
    bytes: asking the socket for ``RCVMORE`` costs ~1 us per frame in pyzmq (it builds an
    enum per call), which was a third of the broker's time per message (measured).
    """
    frame = _recv(sock, _NOBLOCK, False)
    frames = [frame.bytes]
    while frame.more:
        frame = _recv(sock, _NOBLOCK, False)
        frames.append(frame.bytes)
    return frames


def recv_three(sock: zmq.Socket[bytes]) -> list[bytes]:
    """Receive one message expected to have three frames (raises zmq.Again when empty).

    The first two frames are received as bytes without asking whether more follow, the
    third as a ``zmq.Frame`` whose ``more`` must be false: a third of the cost of
    :func:`recv_frames` (a ``zmq.Frame`` costs ~4x a bytes copy in pyzmq, measured). A
    message of another frame count is read to its end and returned as ``[]`` (the caller
    counts it); as the first frames are not checked, one message that is short by a frame
    or two also takes the next message with it (both are lost, counted once). Only for
    sockets whose peers send three-frame messages (SUB sockets on the bus).
    """
    first = _recv(sock, _NOBLOCK, True)  # zmq.Again: nothing waiting
    try:
        second = _recv(sock, _NOBLOCK, True)
        last = _recv(sock, _NOBLOCK, False)
    except zmq.Again:  # the parts of a message arrive together: this one was short
        return []
    if last.more:
        while last.more:
            last = _recv(sock, _NOBLOCK, False)
        return []
    return [first, second, last.bytes]


#: the message property ZAP sets to the CURVE key it admitted (hmi.bus.net.auth.ZapHandler)
_USER_ID = b"User-Id"


#: messages handled per wake-up before yielding to other callbacks (GUI stays responsive)
DRAIN_BATCH = 2000
#: loops without add_reader (Windows' proactor) poll at this period instead
FALLBACK_PERIOD = 0.001


class Reader:
    """Calls ``handle(frames)`` for every message of ``sock``, from the running loop.

    Frames are handed over as bytes. ``three=True`` receives with :func:`recv_three` (a
    message of another frame count is handed over as ``[]``).
    ``period``: do not wake up per message but read every ``period`` seconds (a reader
    that may lag: fewer, larger batches, and libzmq signals a sleeping reader once per
    period instead of once per message).
    """

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        handle: Callable[[list[Any]], None],
        batch: int = DRAIN_BATCH,
        *,
        period: float | None = None,
        three: bool = False,
    ) -> None:
        self.sock = sock
        self._receive: Callable[[zmq.Socket[bytes]], list[Any]] = (
            recv_three if three else recv_frames
        )
        self.handle = handle
        self.batch = batch
        self.errors = 0
        self._loop = asyncio.get_running_loop()
        self._scheduled = False
        self._fd = sock.FD
        self._period = period or FALLBACK_PERIOD
        self._polling = period is not None
        self._closed = False
        #: handling messages between reads (see kick)
        self._reading = False
        #: a kick is scheduled after the running callback (see kick_later)
        self._kick_later = False

    def start(self) -> None:
        """Begin watching the socket."""
        if not self._polling:
            try:
                self._loop.add_reader(self._fd, self._on_ready)
            except NotImplementedError:
                self._polling = True
        self.kick()

    def kick(self, soon: bool = False) -> None:
        """Drain soon (after a send on this socket, which may have eaten the signal).

        Nothing to do while the reader hands a message over between two reads (a handler
        that answers on the socket it was read from: a broker routing, a node replying):
        the read after it drains until the socket is empty, which re-arms the signal.
        That spares a turn of the loop per message answered (~50 us of a call's latency
        through the broker, measured on 2 cores). Otherwise the socket is asked at once
        whether a message waits (which re-arms the signal too), and a read is scheduled
        only then: a node that sends a request does not turn the loop for a read that
        finds nothing (its reply comes later, and signals). ``soon``: schedule it anyway
        (a full batch was read: more may wait)."""
        if not self._scheduled and not self._closed and not self._reading:
            if not soon and not self._polling:
                try:
                    if not _get(self.sock, _EVENTS) & _POLLIN:
                        return
                except zmq.ZMQError:  # closed under the reader: nothing to read
                    return
            self._scheduled = True
            if self._polling and not soon:
                self._loop.call_later(self._period, self._on_ready)
            else:
                self._loop.call_soon(self._on_ready)

    def kick_later(self) -> None:
        """:meth:`kick` once the running callback is done: a burst of sends on the socket
        (publications through the broker's front, thousands per callback) asks the socket
        once after it rather than after each send (~0.7 us each, measured). Nothing is
        read before then anyway: the reader runs on the loop, after the callback."""
        if not self._kick_later and not self._closed:
            self._kick_later = True
            self._loop.call_soon(self._kick_now)

    def _kick_now(self) -> None:
        self._kick_later = False
        self.kick()

    def _on_ready(self) -> None:
        self._scheduled = False
        if self._closed:
            return
        try:
            if self._read(self.batch):
                self.kick(soon=True)  # a full batch: more may wait; let others run first
                return
            if self._polling:
                self.kick()
            # The read that raised zmq.Again (or found EVENTS without POLLIN) processed
            # every command waiting for the socket, so libzmq signals the FD again for the
            # next message. Sends are the exception: they may swallow that signal, hence
            # kick() after them.
        except zmq.ZMQError as exc:
            if not self._closed:
                log.warning("socket error while reading: %s", exc)

    def _read(self, limit: int) -> bool:
        """Handle up to ``limit`` waiting messages; True if there may be more."""
        sock = self.sock
        handle = self.handle
        receive = self._receive
        self._reading = True  # (each message handled is followed by a read: see kick)
        try:
            for i in range(limit):
                try:
                    frames = receive(sock)
                except zmq.Again:
                    return False
                try:
                    handle(frames)
                except Exception:
                    self.errors += 1
                    log.exception("failed to handle a message")
                if not i and not _get(sock, _EVENTS) & _POLLIN:
                    # The usual wake-up (an RPC request or reply, a heartbeat) brings one
                    # message: asking whether another waits costs a third of a read that
                    # finds none; a burst is read on until one finds none.
                    return False
            return True
        finally:
            self._reading = False

    def drain(self) -> None:
        """Handle every message waiting now (the caller needs them handled first)."""
        if not self._closed:
            while self._read(self.batch):
                pass

    def close(self) -> None:
        """Stop watching (before the socket is closed)."""
        if self._closed:
            return
        self._closed = True
        if not self._polling:
            self._loop.remove_reader(self._fd)


class BatchReader(Reader):
    """A :class:`Reader` whose ``handle`` gets every message of a wake-up in one list.

    For readers whose per-message work is small (the broker's tap and front): one call per
    batch instead of one per message, and the handler keeps its lookups in locals and
    makes them once per run of alike messages. The batch is handled after the read that
    found the socket empty; a handler that sends on the socket (a broker routing) may eat
    the signal of messages that arrive meanwhile, so after such a batch the reader asks
    the socket at once whether a message waits (which re-arms the signal), and reads on
    if one does (no turn of the loop for it: see :meth:`Reader.kick`), up to ``batch``
    messages in all.

    ``reply_first``: a wake-up's first message is handled at once, alone, and the socket
    asked after it whether more wait (the question a send needs anyway): for RPC sockets
    (a broker's front, a node's direct endpoint), whose wake-ups mostly bring one request,
    the request is routed or answered without a question (1.5 us) before it.
    """

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        handle: Callable[[list[Any]], None],
        batch: int = DRAIN_BATCH,
        *,
        period: float | None = None,
        three: bool = False,
        reply_first: bool = False,
    ) -> None:
        super().__init__(sock, handle, batch, period=period, three=three)
        #: a send on the socket while a batch was handled (see kick)
        self._sent = False
        self._reply_first = reply_first

    def kick(self, soon: bool = False) -> None:
        """As :meth:`Reader.kick`; while a batch is handled, it only notes the send."""
        if self._reading:
            self._sent = True
            return
        super().kick(soon)

    def receive_batch(self, limit: int, first: bool = False) -> tuple[list[Any], bool | None]:
        """Up to ``limit`` waiting messages, and whether there may be more (None: not
        asked yet; the reader asks once they are handled). ``first``: the first read of
        a wake-up."""
        sock = self.sock
        receive = self._receive
        messages: list[Any] = []
        append = messages.append
        try:
            for _ in range(limit):
                append(receive(sock))
        except zmq.Again:
            return messages, False
        return messages, True

    #: messages received and handed over at a time (None: all a read finds, up to the
    #: reader's batch); a reader of big messages may take them in smaller chunks, which
    #: reuse the same memory (hmi.bus.broker.tapc)
    chunk: int | None = None

    def _read(self, limit: int) -> bool:
        handled = 0
        chunk = self.chunk or limit
        while True:
            messages, more = self.receive_batch(min(chunk, limit - handled), not handled)
            if not messages:
                return bool(more)
            handled += len(messages)
            self._reading = True
            self._sent = False
            try:
                self.handle(messages)
            except Exception:
                self.errors += 1
                log.exception("failed to handle %d messages", len(messages))
            finally:
                self._reading = False
            if more:
                if handled < limit and chunk < limit:
                    continue  # the next chunk
                return True
            if (more is None or self._sent) and _get(self.sock, _EVENTS) & _POLLIN:
                # (asking re-armed the signal: see kick) read on, up to ``limit`` in all
                # before other callbacks run
                if handled < limit:
                    continue
                return True
            return False


class RouterReader(BatchReader):
    """A :class:`BatchReader` of a ROUTER whose peers send three frames: each message is
    handed over as ``[routing id, topic, header, payload, key]``, ``key`` the CURVE public
    key ZAP admitted for its connection (``User-Id``; '' unless ``keyed``), and one of
    another frame count as ``[]`` (the handler counts it).

    The routing id, which the ROUTER puts first, is received as bytes; the three frames of
    the peer as ``zmq.Frame`` s, whose ``more`` says where the message ends: a short
    message never takes the next one with it (unlike :func:`recv_three`). On a front that
    every admitted peer writes to, one that sends short messages would otherwise destroy
    the message of whichever peer the ROUTER reads after it (it reads its peers in turn),
    everyone's. The key is read per message: a routing id may change hands when its
    connection ends. Measured: 1.6 us per message with the key, against 3.1 us for four
    ``zmq.Frame`` s copied to bytes.
    """

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        handle: Callable[[list[Any]], None],
        batch: int = DRAIN_BATCH,
        *,
        keyed: bool,
        reply_first: bool = False,
    ) -> None:
        super().__init__(sock, handle, batch, reply_first=reply_first)
        self.keyed = keyed

    def receive_batch(self, limit: int, first: bool = False) -> tuple[list[Any], bool | None]:
        """Up to ``limit`` waiting messages, and whether there may be more (None: not
        asked yet). ``first``: the first read of a wake-up."""
        sock = self.sock
        recv = _recv
        keyed = self.keyed
        messages: list[Any] = []
        append = messages.append
        for i in range(limit):
            if i == 1:
                # (as Reader: a wake-up that brought one message, an RPC request or
                # reply, asks rather than reads to find the socket empty; reply_first:
                # asked once the first message is handled, so that a request is routed
                # or answered first, and the question covers the send too)
                if first and self._reply_first:
                    return messages, None
                if not _get(sock, _EVENTS) & _POLLIN:
                    return messages, False
            try:
                ident = recv(sock, _NOBLOCK, True)
            except zmq.Again:
                return messages, False
            try:  # (the parts of a message arrive together: no zmq.Again from here on)
                topic = recv(sock, _NOBLOCK, False)
                if not topic.more:
                    append([])
                    continue
                header = recv(sock, _NOBLOCK, False)
                if not header.more:
                    append([])
                    continue
                last = recv(sock, _NOBLOCK, False)
                if last.more:
                    while last.more:
                        last = recv(sock, _NOBLOCK, False)
                    append([])
                    continue
            except zmq.Again:
                append([])
                return messages, False
            key = (last.get(_USER_ID) or "?") if keyed else ""
            append([ident, topic.bytes, header.bytes, last.bytes, key])
        return messages, True
