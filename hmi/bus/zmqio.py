"""Draining ZeroMQ sockets from any asyncio loop (plain, qasync), without zmq.asyncio.

A ZeroMQ socket's ``FD`` is edge-triggered: it signals once when messages arrive and is
re-armed only by reading ``EVENTS``; a send on the same socket can consume the signal. So:
the reader drains with non-blocking reads until empty, re-checks ``EVENTS`` before
sleeping, and whoever sends on a socket that is also read calls :meth:`Reader.kick`.
Measured: one ``await`` per message through zmq.asyncio costs several times more than this,
and its per-call pollers lost wake-ups under load (RPC replies stuck until the next message).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import zmq
from zmq.backend import Socket as _BackendSocket

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


def recv_raw(sock: zmq.Socket[bytes]) -> list[zmq.Frame]:
    """Like :func:`recv_frames` but hands over the ``zmq.Frame`` objects (CURVE User-Id)."""
    frame = _recv(sock, _NOBLOCK, False)
    frames = [frame]
    while frame.more:
        frame = _recv(sock, _NOBLOCK, False)
        frames.append(frame)
    return frames


#: messages handled per wake-up before yielding to other callbacks (GUI stays responsive)
DRAIN_BATCH = 2000
#: loops without add_reader (Windows' proactor) poll at this period instead
FALLBACK_PERIOD = 0.001


class Reader:
    """Calls ``handle(frames)`` for every message of ``sock``, from the running loop.

    ``copy=False`` hands over ``zmq.Frame`` objects (their properties, e.g. the CURVE
    ``User-Id``, are readable); the default hands over bytes.
    """

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        handle: Callable[[list[Any]], None],
        batch: int = DRAIN_BATCH,
        copy: bool = True,
    ) -> None:
        self.sock = sock
        self.copy = copy
        self.handle = handle
        self.batch = batch
        self.errors = 0
        self._loop = asyncio.get_running_loop()
        self._scheduled = False
        self._fd = sock.FD
        self._polling = False
        self._closed = False

    def start(self) -> None:
        """Begin watching the socket."""
        try:
            self._loop.add_reader(self._fd, self._on_ready)
        except NotImplementedError:
            self._polling = True
        self.kick()

    def kick(self) -> None:
        """Drain soon (after a send on this socket, which may have eaten the signal)."""
        if not self._scheduled and not self._closed:
            self._scheduled = True
            if self._polling:
                self._loop.call_later(FALLBACK_PERIOD, self._on_ready)
            else:
                self._loop.call_soon(self._on_ready)

    def _on_ready(self) -> None:
        self._scheduled = False
        if self._closed:
            return
        sock = self.sock
        handle = self.handle
        copy = self.copy
        try:
            for _ in range(self.batch):
                try:
                    frames = recv_frames(sock) if copy else recv_raw(sock)
                except zmq.Again:
                    break
                try:
                    handle(frames)
                except Exception:
                    self.errors += 1
                    log.exception("failed to handle a message")
            else:
                self.kick()  # a full batch: more may wait; let others run first
                return
            # Reading EVENTS re-arms the edge-triggered FD; messages may have come meanwhile.
            events = self.sock.getsockopt(zmq.EVENTS)
            if (isinstance(events, int) and events & zmq.POLLIN) or self._polling:
                self.kick()
        except zmq.ZMQError as exc:
            if not self._closed:
                log.warning("socket error while reading: %s", exc)

    def close(self) -> None:
        """Stop watching (before the socket is closed)."""
        if self._closed:
            return
        self._closed = True
        if not self._polling:
            self._loop.remove_reader(self._fd)
