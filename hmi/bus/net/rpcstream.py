"""Direct RPC on a Unix stream socket: a node's second direct endpoint, for its own kind.

A node on the broker's machine takes calls directly on a ZeroMQ ROUTER (any client of the
protocol can dial it: docs/bus-protocol.md, ROUTE). Each message there crosses both
processes' ZeroMQ I/O threads: four thread wake-ups per round trip more than a plain
socket, which is what a call's latency is made of (issue 17: p50 86-157 us against
aiomas' 87-128 us on its asyncio TCP stream). So on Linux a node also listens on an
abstract Unix socket (``unix:@hmi-rpc-<hex>``: this machine only, as the loopback is,
and no file), read and written by its event loop itself, and the broker routes callers
that said in their HELLO that they dial these (``streams``) there.

Messages are the bus's three frames, each ``[topic][header][payload]`` preceded by their
three lengths (``<III``, little-endian). Who may call what there is the broker's tickets'
to say (:mod:`hmi.bus.net.streamcalls`). A frame longer than the bus allows closes the
connection (a stream cannot be resynchronised), counted as ``stream``, and so does a
message cut short at the end. A peer that does not read its replies is cut off past
:data:`MAX_BUFFERED` bytes waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

from hmi.bus.wire.address import STREAM_SCHEME, new_stream_endpoint
from hmi.bus.wire.frames import MAX_HEADER, MAX_PAYLOAD, MAX_TOPIC

log = logging.getLogger(__name__)

_LENGTHS = struct.Struct("<III")
_PREFIX = _LENGTHS.size
#: replies (or requests) waiting to be written to a peer that does not read, at most
MAX_BUFFERED = 64 << 20
#: a connection's read buffer at first, and the room a read is given at least
_FIRST_BUFFER, _MIN_READ = 64 << 10, 16 << 10

Messages = list[list[bytes]]


def _address(endpoint: str) -> str:
    return "\0" + endpoint[len(STREAM_SCHEME) :]


def encode(frames: list[bytes]) -> bytes:
    """One message on the stream."""
    topic, header, payload = frames
    return b"".join((_LENGTHS.pack(len(topic), len(header), len(payload)), topic, header, payload))


class _Framer:
    """Splits what a stream brings into messages, read straight into a buffer of its own.

    asyncio's plain protocols get each read as a new bytes object of up to 256 KiB
    allocated for it (and shrunk): a cost per read that was most of a direct call's CPU
    on its own. A buffered protocol has the socket read into this buffer instead
    (``recv_into``); it grows to hold the largest message, and whole messages are copied
    out of it.
    """

    __slots__ = ("_buffer", "_end", "_start")

    def __init__(self) -> None:
        self._buffer = bytearray(_FIRST_BUFFER)
        self._start = self._end = 0  # the bytes not yet taken: [start, end)

    def space(self) -> memoryview:
        """Where the next read goes (made room for: taken bytes dropped, or more room)."""
        buffer, start, end = self._buffer, self._start, self._end
        if len(buffer) - end < _MIN_READ:
            if len(buffer) - (end - start) < _MIN_READ:  # a new one, twice the size
                self._buffer = bytearray(2 * len(buffer))
            # (never resized in place: a view of the last read may still be held)
            self._buffer[: end - start] = buffer[start:end]
            self._start, self._end = 0, end - start
        return memoryview(self._buffer)[self._end :]

    def filled(self, count: int) -> Messages | None:
        """The whole messages once ``count`` more bytes were read into :meth:`space`;
        None when a frame is too long (the stream is out of step: the connection must
        go)."""
        self._end += count
        buffer, pos, end = self._buffer, self._start, self._end
        messages: Messages = []
        while end - pos >= _PREFIX:
            topic_n, header_n, payload_n = _LENGTHS.unpack_from(buffer, pos)
            if topic_n > MAX_TOPIC or header_n > MAX_HEADER or payload_n > MAX_PAYLOAD:
                return None
            stop = pos + _PREFIX + topic_n + header_n + payload_n
            if stop > end:
                break
            at = pos + _PREFIX
            messages.append(
                [
                    bytes(buffer[at : at + topic_n]),
                    bytes(buffer[at + topic_n : at + topic_n + header_n]),
                    bytes(buffer[at + topic_n + header_n : stop]),
                ]
            )
            pos = stop
        if pos == end:
            self._start = self._end = 0
        else:
            self._start = pos
        return messages

    @property
    def partial(self) -> bool:
        """A message is cut short so far."""
        return self._end > self._start


class _Stream(asyncio.BufferedProtocol):
    """What both ends do: frame what comes in, write what goes out, mind the buffer."""

    def __init__(self, drop: Callable[[str], None]) -> None:
        self._drop = drop
        self._framer = _Framer()
        self.transport: asyncio.Transport | None = None
        #: messages to write after the running batch (one write for a batch's replies)
        self._held: list[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._framer.space()

    def buffer_updated(self, nbytes: int) -> None:
        messages = self._framer.filled(nbytes)
        if messages is None:
            self._drop("stream")
            self.close()
            return
        if messages:
            self._held = []
            try:
                self.handle(messages)
            finally:
                held, self._held = self._held, None
                if held:
                    self._write(b"".join(held))

    def eof_received(self) -> bool | None:
        if self._framer.partial:  # the peer closed in the middle of a message
            self._drop("stream")
        return None

    def handle(self, messages: Messages) -> None:
        """Messages received (overridden)."""

    def send(self, frames: list[bytes]) -> bool:
        """Send one message; False when it cannot go (not connected, or the peer does not
        read and is cut off)."""
        if self.transport is None or self.transport.is_closing():
            return False
        if self._held is not None:
            self._held.append(encode(frames))
            return True
        return self._write(encode(frames))

    def _write(self, data: bytes) -> bool:
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > MAX_BUFFERED:
            self._drop("stream_full")
            transport.abort()
            return False
        transport.write(data)
        return True

    def close(self) -> None:
        """Close the connection (what is written goes out first)."""
        if self.transport is not None:
            self.transport.close()


class StreamPeer(_Stream):
    """A caller's connection to this node's stream endpoint."""

    def __init__(
        self,
        handle: Callable[[StreamPeer, Messages], None],
        drop: Callable[[str], None],
        gone: Callable[[StreamPeer], None],
    ) -> None:
        super().__init__(drop)
        self._handle = handle
        self._gone = gone
        #: the node id of the caller, from its first ticket (None: none yet)
        self.caller: str | None = None
        #: the targets it holds tickets for, and when each ticket expires
        self.targets: dict[str, float] = {}

    def handle(self, messages: Messages) -> None:
        self._handle(self, messages)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._gone(self)


class StreamServer:
    """This node's stream endpoint: bound at once (its name goes into HELLO), served from
    the running loop."""

    def __init__(self, handle: Callable[[StreamPeer, Messages], None], drop: Callable[[str], None]):
        self.endpoint = new_stream_endpoint()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.bind(_address(self.endpoint))
            self._sock.listen(128)
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise
        self._peers: set[StreamPeer] = set()
        self._handle, self._drop = handle, drop
        self._server: asyncio.AbstractServer | None = None
        self._task = asyncio.get_running_loop().create_task(self._serve(), name="rpc stream")

    def _peer(self) -> StreamPeer:
        peer = StreamPeer(self._handle, self._drop, self._peers.discard)
        self._peers.add(peer)
        return peer

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(self._peer, sock=self._sock)

    def forget_tickets(self) -> None:
        """Every connection's tickets are void (a new key): their next calls need new ones."""
        for peer in self._peers:
            peer.targets.clear()

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._task.cancel()
        if self._server is not None:
            self._server.close()
        else:
            self._sock.close()
        for peer in list(self._peers):
            peer.close()
        self._peers.clear()


class StreamClient(_Stream):
    """This node's connection to a target's stream endpoint, and the calls in flight on it
    (as :class:`hmi.bus.net.noderpc` counts them)."""

    def __init__(
        self,
        handle: Callable[[Messages], None],
        drop: Callable[[str], None],
        lost: Callable[[StreamClient], None],
    ) -> None:
        super().__init__(drop)
        self._handle_replies = handle
        self._lost = lost
        self.calls = 0
        #: no new calls go here; closed when the last one in flight is answered
        self.retired = False
        #: the ticket shown on this connection for each target
        self.tickets: dict[str, str] = {}
        self._task: asyncio.Task[Any] | None = None
        self._sock: socket.socket | None = None

    @classmethod
    def connect(
        cls,
        endpoint: str,
        handle: Callable[[Messages], None],
        drop: Callable[[str], None],
        lost: Callable[[StreamClient], None],
    ) -> StreamClient | None:
        """Dial ``endpoint`` (a Unix socket connects at once or not at all); None when
        nothing listens there. Calls go through the broker until the loop has set the
        connection up (``send`` is False until then)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(_address(endpoint))
        except OSError:
            sock.close()
            return None
        client = cls(handle, drop, lost)
        client._sock = sock
        loop = asyncio.get_running_loop()
        client._task = loop.create_task(
            loop.create_unix_connection(lambda: client, sock=sock), name="rpc stream connect"
        )
        return client

    def handle(self, messages: Messages) -> None:
        self._handle_replies(messages)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._lost(self)

    def close(self) -> None:
        if self.transport is None:  # not set up yet: the socket is still ours
            if self._task is not None:
                self._task.cancel()
            if self._sock is not None:
                self._sock.close()
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed already
            super().close()
