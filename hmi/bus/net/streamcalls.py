"""A node's direct calls on Unix streams: its own endpoint, which takes calls only under
the broker's tickets, and its connections to the endpoints of others.

The stream itself (framing, connections) is :mod:`hmi.bus.net.rpcstream`; the tickets
:mod:`hmi.bus.net.tickets`. On a connection the caller presents a ticket for a target
(``$sys/ticket``, the ticket as payload) before its first call to it; the node checks the
signature with the key its broker gave it, the expiry, and that every ticket on one
connection names the same caller. A request then runs only as that caller, to a target
it holds a ticket for that has not expired; any other is answered ``TicketRefused``
(its caller goes back through the broker) and counted (``ticket``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from hmi.bus.net.rpcstream import Messages, StreamClient, StreamPeer, StreamServer
from hmi.bus.net.tickets import REFUSED, InvalidTicket, verify
from hmi.bus.wire.frames import Kind, pack_header

if TYPE_CHECKING:
    from hmi.bus.net.noderpc import NodeRpc

log = logging.getLogger(__name__)

#: the topic of a ticket presented on a connection
TICKET_TOPIC = b"$sys/ticket"
_HELLO = int(Kind.HELLO)


def base_of(route: str) -> str:
    """The endpoint of a route (``unix:@name#ticket``), without its ticket."""
    return route.partition("#")[0]


class StreamCalls:
    """The stream side of a :class:`hmi.bus.net.noderpc.NodeRpc`."""

    def __init__(self, rpc: NodeRpc) -> None:
        self._rpc = rpc
        self._transport = rpc.transport
        #: where this node takes calls on a Unix stream (told in HELLO), or ''
        self.endpoint = ""
        self._key = b""
        self._server: StreamServer | None = None
        #: this node's connections to other nodes' endpoints, by endpoint
        self.clients: dict[str, StreamClient] = {}

    @property
    def key(self) -> bytes:
        """The key of this node's tickets, from its broker's welcome (b'': none yet)."""
        return self._key

    @key.setter
    def key(self, key: bytes) -> None:
        if key != self._key and self._server is not None:
            # a new broker (or key): the tickets shown so far are the old key's
            self._server.forget_tickets()
        self._key = key

    def bind(self) -> None:
        """Listen (an abstract Unix socket: Linux)."""
        try:
            self._server = StreamServer(self._on_requests, self._transport.drop)
        except OSError as exc:
            log.warning("no direct RPC stream (%s): calls go through the broker", exc)
        else:
            self.endpoint = self._server.endpoint

    def close(self) -> None:
        """Close every connection and stop listening."""
        for client in self.clients.values():
            client.close()
        self.clients.clear()
        if self._server is not None:
            self._server.close()

    # -- calling ----------------------------------------------------------------------
    def send(self, route: str, target: str, frames: list[bytes]) -> StreamClient | None:
        """Send a request to ``target`` on the route's endpoint, its ticket first when this
        connection has not shown it; None when it cannot go now (through the broker)."""
        endpoint, _, ticket = route.partition("#")
        client = self.clients.get(endpoint)
        if client is None:
            client = StreamClient.connect(
                endpoint, self._rpc.on_direct_replies, self._transport.drop, self._lost
            )
            if client is None:  # nothing listens there (any more)
                self._rpc.forget_endpoint(endpoint)
                return None
            self.clients[endpoint] = client
        if ticket and client.tickets.get(target) != ticket:
            header = pack_header(_HELLO, self._transport.node_id, 0, time.time())
            if not client.send([TICKET_TOPIC, header, ticket.encode()]):
                return None  # not set up yet, or gone
            client.tickets[target] = ticket
        if not client.send(frames):
            return None
        client.calls += 1
        return client

    def retire(self, endpoint: str) -> None:
        """No new calls to ``endpoint``: its connection closes once its calls are done."""
        client = self.clients.pop(endpoint, None)
        if client is not None:
            client.retired = True
            if not client.calls:
                client.close()

    def _lost(self, client: StreamClient) -> None:
        # The target's node closed (or cut off) the connection: its calls in flight end at
        # their timeouts, the next ones go through the broker (which routes them anew).
        for endpoint, known in list(self.clients.items()):
            if known is client:
                del self.clients[endpoint]
                self._rpc.forget_endpoint(endpoint)

    # -- serving ----------------------------------------------------------------------
    def _on_requests(self, peer: StreamPeer, messages: Messages) -> None:
        now = time.time()
        rpc = self._rpc
        for topic_b, header_b, payload_b in messages:
            if topic_b == TICKET_TOPIC:
                self._ticket(peer, payload_b, now)
                continue
            request = rpc.parse_request(topic_b, header_b, payload_b, peer.caller)
            if request is None:
                continue
            topic, sender, call = request
            target = topic[len("rpc/") :]
            expiry = peer.targets.get(target)
            if peer.caller is None or expiry is None or expiry <= now:
                why = "no ticket" if expiry is None else "ticket expired"
                self._transport.drop("ticket", f"{sender} calling {target!r}: {why}")
                rpc.reply(sender, call.call_id, False, [REFUSED, why], peer)
                continue
            rpc.on_request(topic, sender, call, peer)

    def _ticket(self, peer: StreamPeer, payload: bytes, now: float) -> None:
        try:
            caller, target, expiry = verify(self.key, payload.decode(), now)
        except (InvalidTicket, UnicodeDecodeError) as exc:
            self._transport.drop("ticket", f"a ticket refused: {exc}")
            return
        if peer.caller is not None and caller != peer.caller:
            # one connection, one caller: a ticket of another is someone else's
            self._transport.drop("ticket", f"{peer.caller}'s connection showed {caller}'s ticket")
            peer.close()
            return
        peer.caller = caller
        peer.targets[target] = expiry
