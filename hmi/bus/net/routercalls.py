"""A node's direct calls on ZeroMQ: its own ROUTER endpoint (no CURVE), and its DEALER
connections to the ROUTERs of others.

Any client of the protocol can dial a ROUTER endpoint (docs/bus-protocol.md, "Direct
RPC"): a caller is the routing id of its connection, which the caller sets, as at a
broker without a policy. `hmi` nodes dial the faster stream endpoints where there are
some (:mod:`hmi.bus.net.streamcalls`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import zmq

from hmi.bus.net.zmqio import Reader, RouterReader, send_frames
from hmi.bus.wire.frames import MAX_PAYLOAD

if TYPE_CHECKING:
    from hmi.bus.net.noderpc import NodeRpc

log = logging.getLogger(__name__)


class Connection:
    """A DEALER connected to a target's ROUTER, and the calls in flight on it."""

    __slots__ = ("calls", "reader", "retired", "sock")

    def __init__(self, sock: zmq.Socket[bytes], reader: Reader) -> None:
        self.sock = sock
        self.reader = reader
        self.calls = 0
        #: no new calls go here; closed when the last one in flight is answered
        self.retired = False

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class RouterCalls:
    """The ZeroMQ side of a :class:`hmi.bus.net.noderpc.NodeRpc`'s direct calls."""

    def __init__(self, rpc: NodeRpc) -> None:
        self._rpc = rpc
        self._transport = rpc.transport
        #: where this node takes RPC requests on its ROUTER (told in HELLO), or ''
        self.endpoint = ""
        self._server: zmq.Socket[bytes] | None = None
        self._server_reader: RouterReader | None = None
        #: this node's connections to other nodes' ROUTERs, by endpoint
        self.connections: dict[str, Connection] = {}

    def _socket(self, kind: int) -> zmq.Socket[bytes]:
        transport = self._transport
        sock = transport.context.socket(kind)
        sock.linger = 0
        sock.sndhwm = transport.hwm
        sock.rcvhwm = transport.hwm
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_PAYLOAD + 4096)
        return sock

    def bind(self, where: str) -> None:
        """Bind the ROUTER at ``where``."""
        sock = self._socket(zmq.ROUTER)
        sock.router_mandatory = True  # a reply to a caller that left raises, is counted
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        try:
            sock.bind(where)
        except zmq.ZMQError as exc:
            log.warning("no direct RPC endpoint (%s): calls go through the broker", exc)
            sock.close()
            return
        endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
        self.endpoint = endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)
        self._server = sock
        # (each request read as a RouterReader reads the broker's front: a short message
        # from one caller never takes another caller's request with it)
        self._server_reader = RouterReader(sock, self.on_requests, keyed=False, reply_first=True)
        self._server_reader.start()

    def close(self) -> None:
        """Close every connection and the ROUTER."""
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()
        if self._server is not None and self._server_reader is not None:
            self._server_reader.close()
            self._server.close()

    # -- calling ----------------------------------------------------------------------
    def send(self, endpoint: str, frames: list[bytes]) -> Connection | None:
        """Send on the connection to ``endpoint``; None if it cannot take the call now."""
        connection = self.connections.get(endpoint)
        if connection is None:
            sock = self._socket(zmq.DEALER)
            sock.routing_id = self._transport.node_id.encode()
            sock.setsockopt(zmq.IMMEDIATE, 1)  # not connected: EAGAIN, not a queued call
            sock.connect(endpoint)
            # (replies of the one target there: read as three frames, without asking after
            # each whether more follow; one of another count is counted and dropped)
            reader = Reader(sock, self._rpc.on_direct_reply, three=True)
            reader.start()
            connection = self.connections[endpoint] = Connection(sock, reader)
        try:
            send_frames(connection.sock, frames)
        except zmq.Again:
            return None  # not connected (yet) or full: through the broker
        # A send can swallow the reader's signal. A call alone asks at once (a turn of the
        # loop more before it waits cost it more than the question, measured); with
        # others in flight, once after the running callback, for all the calls a burst
        # of them sends (replies come in bursts, and each resumes a caller that calls)
        if connection.calls:
            connection.reader.kick_later()
        else:
            connection.reader.kick()
        connection.calls += 1
        return connection

    def retire(self, endpoint: str) -> None:
        """No new calls to ``endpoint``: its connection closes once its calls are done (a
        timeout may just mean a slow method)."""
        connection = self.connections.pop(endpoint, None)
        if connection is not None:
            connection.retired = True
            if not connection.calls:
                connection.close()

    # -- serving ----------------------------------------------------------------------
    def on_request(self, frames: list[bytes]) -> None:
        """One request as the ROUTER hands it over, ``[routing id, topic, header, payload]``."""
        self.on_requests([[*frames, ""]] if len(frames) == 4 else [[]])

    def on_requests(self, messages: list[list[Any]]) -> None:
        """Requests on the ROUTER, ``[routing id, topic, header, payload, '']`` each (``[]``:
        another frame count), one wake-up's in a list."""
        rpc = self._rpc
        for message in messages:
            if len(message) != 5:
                self._transport.drop("frame_count")
                continue
            ident, topic_b, header_b, payload_b, _ = message
            # As at the broker's front: a caller is the routing id of its connection.
            try:
                caller = ident.decode()
            except UnicodeDecodeError:
                self._transport.drop("sender")
                continue
            request = rpc.parse_request(topic_b, header_b, payload_b, caller)
            if request is not None:
                rpc.on_request(*request, ident)

    def reply(self, ident: bytes, frames: list[bytes]) -> bool:
        """Send a reply to the caller ``ident`` on the ROUTER; False: there is none."""
        if self._server is None or self._server_reader is None:
            return False
        try:
            send_frames(self._server, [ident, *frames])
        except zmq.ZMQError:  # the caller left (EHOSTUNREACH) or is full
            self._transport.drops["unroutable"] += 1
        self._server_reader.kick()
        return True
