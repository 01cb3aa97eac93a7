"""RPC of a node on ZeroMQ: the calls it makes, the calls it serves, direct routes.

Requests and replies travel as ``RPC_REQ`` / ``RPC_REP`` messages through the broker's
front (docs/bus-protocol.md), their payloads decoded into :class:`hmi.bus.wire.control.Call`
and :class:`hmi.bus.wire.control.Reply` in one pass (a malformed one is counted and dropped).
Without CURVE, on one machine, a node also binds a ROUTER of its own and the broker tells
callers about it (``ROUTE``): further calls go there directly, two hops fewer. On Linux
it also listens on a Unix stream socket (:mod:`hmi.bus.net.streamcalls`: no ZeroMQ I/O
threads in the way), where the broker routes callers that dial those, each with a
ticket for the target that the node checks for itself: under a client policy too, as
the broker issues a ticket only for a call that passed its checks. Timeouts follow the
bus clock, on one timer for all calls.

A served call runs with the transport's ``current_sender`` set to the caller's node id
(checked by the broker; on a direct endpoint, the caller's routing id on the ROUTER, the
ticket's caller on a stream), so a method's permission check knows who calls; an async
method keeps it in its task. A broker with a client policy never gives out routes to a
ROUTER, and a node with CURVE keys neither binds one nor follows a route to one.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any, NamedTuple

from hmi.bus.local.rpc import RemoteError, RpcTimeout
from hmi.bus.net.routercalls import RouterCalls
from hmi.bus.net.rpcstream import Messages, StreamPeer
from hmi.bus.net.streamcalls import StreamCalls, base_of
from hmi.bus.net.tickets import REFUSED, RENEW_BEFORE, expiry_of
from hmi.bus.wire.address import STREAM_SCHEME as STREAM
from hmi.bus.wire.address import is_stream_endpoint
from hmi.bus.wire.control import (
    CALL,
    REPLY,
    Call,
    Fault,
    Reply,
    Route,
    convert,
    decode,
    pack_call,
    pack_reply,
)
from hmi.bus.wire.frames import (
    FrameError,
    Kind,
    header_fields,
    pack_header,
    parse_topic,
)

if TYPE_CHECKING:
    from hmi.bus.net.transport import ZmqTransport

log = logging.getLogger(__name__)

_RPC_REQ = int(Kind.RPC_REQ)
_RPC_REP = int(Kind.RPC_REP)
#: finished calls may leave this many deadlines behind before the heap is rebuilt
_SLACK = 1024
#: Unix sockets may live in the abstract namespace (no file: ``ipc://@name``)
_ABSTRACT = sys.platform.startswith("linux")


class _Call(NamedTuple):
    future: asyncio.Future[Any]
    target: str
    method: str
    timeout: float


class NodeRpc:
    """The RPC side of a :class:`hmi.bus.net.transport.ZmqTransport`."""

    def __init__(self, transport: ZmqTransport) -> None:
        self._transport = transport
        self._bus = transport.bus
        self._calls: dict[int, _Call] = {}
        self._call_ids = itertools.count(1)
        #: (deadline on the bus clock's monotonic time, call id), earliest first
        self._deadlines: list[tuple[float, int]] = []
        self._timer: Any = None
        self._timer_at = math.inf
        #: RPC target -> the endpoint where it takes calls directly (from ROUTE messages;
        #: a stream endpoint with its ticket, ``unix:@name#ticket``)
        self.routes: dict[str, str] = {}
        #: RPC target -> when its route's ticket expires (stream routes)
        self._expiry: dict[str, float] = {}
        self.routers = RouterCalls(self)
        self.streams = StreamCalls(self)

    @property
    def endpoint(self) -> str:
        """Where this node takes RPC requests on its ROUTER (told in HELLO), or ''."""
        return self.routers.endpoint

    @property
    def transport(self) -> ZmqTransport:
        """The transport this is the RPC side of."""
        return self._transport

    @property
    def stream_endpoint(self) -> str:
        """Where this node takes RPC requests on a Unix stream (told in HELLO), or ''."""
        return self.streams.endpoint

    @property
    def ticket_key(self) -> bytes:
        """The key of the tickets for this node's stream endpoint (from the welcome)."""
        return self.streams.key

    @ticket_key.setter
    def ticket_key(self, key: bytes) -> None:
        self.streams.key = key

    @property
    def dials_streams(self) -> bool:
        """This node follows routes to stream endpoints (told in HELLO: ``streams``)."""
        return _ABSTRACT

    @property
    def direct_connections(self) -> int:
        """How many targets' endpoints this node is connected to directly."""
        return len(self.routers.connections) + len(self.streams.clients)

    # -- life -----------------------------------------------------------------------------
    def bind(self) -> None:
        """Bind where this node takes RPC requests without the broker's hops: only where
        the broker is on this machine (ipc, or tcp on loopback), a Unix stream (Linux:
        calls under the broker's tickets) and, without CURVE, a ROUTER (with a policy the
        broker must check every call there)."""
        front = self._transport.address.front
        if front.startswith("ipc://"):
            where = f"{front}.rpc-{uuid.uuid4().hex[:8]}"
        elif front.startswith(("tcp://127.", "tcp://localhost:")):
            # Linux: an abstract Unix socket, reachable from this machine only, as the
            # loopback is, and no file to leave behind; a round trip skips the TCP stack
            # (p50 of a direct call 72-75 us instead of 77-92 us, alternating runs)
            where = f"ipc://@hmi-rpc-{uuid.uuid4().hex}" if _ABSTRACT else "tcp://127.0.0.1:*"
        else:
            return
        if _ABSTRACT:
            self.streams.bind()
        if self._transport.keys is None:
            self.routers.bind(where)

    def close(self) -> None:
        """Fail the calls in flight and close the direct sockets."""
        for call in self._calls.values():
            if not call.future.done():
                call.future.set_exception(ConnectionError("bus closed"))
        self._calls.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.routers.close()
        self.streams.close()

    # -- calling --------------------------------------------------------------------------
    async def call(
        self,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float,
    ) -> Any:
        """Send an RPC request (directly when there is a route, else through the broker)
        and await the reply."""
        call_id = next(self._call_ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls[call_id] = _Call(future, target, method, timeout)
        try:
            self._expire_after(call_id, timeout)
            now = time.time()
            frames = [
                f"rpc/{target}".encode(),
                pack_header(_RPC_REQ, self._transport.node_id, 0, now),
                pack_call(call_id, method, list(args), kwargs),
            ]
            endpoint = self.routes.get(target)
            if endpoint is not None and self._expiry.get(target, math.inf) - RENEW_BEFORE < now:
                self._forget_route(target, endpoint)  # its ticket: renewed by the broker
                endpoint = None
            direct = self._send_direct(endpoint, target, frames) if endpoint is not None else None
            if direct is None:
                self._transport.send_front(frames)
            try:
                return await future
            except (RpcTimeout, RemoteError) as exc:
                if endpoint is None or direct is None:
                    raise
                if isinstance(exc, RemoteError) and exc.remote_type == REFUSED:
                    # the target's node did not take the ticket (a broker that restarted
                    # since gave it a new key): through the broker, which issues a new one
                    self._forget_route(target, endpoint)
                    return await self.call(target, method, args, kwargs, timeout)
                if isinstance(exc, RpcTimeout) or exc.remote_type == "LookupError":
                    self._forget_route(target, endpoint)  # moved or gone: ask the broker
                raise
            finally:
                if direct is not None:
                    direct.calls -= 1
                    if direct.retired and not direct.calls:
                        direct.close()  # its other calls were answered or gave up
        finally:
            self._calls.pop(call_id, None)

    def _expire_after(self, call_id: int, timeout: float) -> None:
        # One timer for every call in flight (a timer each cost ~2 us per call, measured):
        # deadlines wait in a heap; finished calls' entries are skipped when they come up.
        clock = self._bus.clock
        deadline = clock.monotonic() + timeout
        heap = self._deadlines
        if len(heap) > 2 * len(self._calls) + _SLACK:
            heap[:] = [entry for entry in heap if entry[1] in self._calls]
            heapq.heapify(heap)
        heapq.heappush(heap, (deadline, call_id))
        if deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = clock.call_later(timeout, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        heap = self._deadlines
        now = self._bus.clock.monotonic() + 1e-9  # a timer may fire a rounding error early
        while heap and heap[0][0] <= now:
            call = self._calls.get(heapq.heappop(heap)[1])
            if call is not None and not call.future.done():
                message = f"{call.target}.{call.method}: no reply in {call.timeout} s"
                call.future.set_exception(RpcTimeout(message))
        if heap:
            self._timer_at = heap[0][0]
            self._timer = self._bus.clock.call_later(heap[0][0] - now, self._on_timer)

    def on_route(self, route: Route) -> None:
        """The broker told where a target takes calls directly (``ROUTE``)."""
        endpoint = route.endpoint
        if is_stream_endpoint(base_of(endpoint)) and self.dials_streams:
            self.routes[route.target] = endpoint
            self._expiry[route.target] = expiry_of(endpoint.partition("#")[2]) or math.inf
            return
        if self._transport.keys is not None:
            return  # never go around a broker that checks calls
        if not endpoint.startswith(("tcp://", "ipc://")):
            self._transport.drop("route", f"not an endpoint: {endpoint!r}")
            return
        self.routes[route.target] = endpoint
        self._expiry.pop(route.target, None)

    def _send_direct(self, endpoint: str, target: str, frames: list[bytes]) -> Any:
        """Send on the connection to ``endpoint``; the connection (its ``calls`` counted),
        or None if it cannot take the call now."""
        if endpoint.startswith(STREAM):
            return self.streams.send(endpoint, target, frames)
        return self.routers.send(endpoint, frames)

    def _forget_route(self, target: str, endpoint: str) -> None:
        if self.routes.get(target) == endpoint:
            del self.routes[target]
            self._expiry.pop(target, None)
        base = base_of(endpoint)
        if any(base_of(other) == base for other in self.routes.values()):
            return  # other targets there still go direct
        # (other calls may still wait for their replies there: closed when they are done)
        if endpoint.startswith(STREAM):
            self.streams.retire(base)
        else:
            self.routers.retire(endpoint)

    def forget_endpoint(self, endpoint: str) -> None:
        """Nothing (any more) at ``endpoint``: the targets routed there go through the
        broker again."""
        for target in [t for t, route in self.routes.items() if base_of(route) == endpoint]:
            del self.routes[target]
            self._expiry.pop(target, None)

    def forget_routes(self) -> None:
        """Forget every route to a stream endpoint (a new broker: their tickets are the
        old one's)."""
        for target in [t for t, route in self.routes.items() if route.startswith(STREAM)]:
            del self.routes[target]
            self._expiry.pop(target, None)

    def on_direct_replies(self, messages: Messages) -> None:
        """Replies on a stream connection."""
        for frames in messages:
            self.on_direct_reply(frames)

    def on_direct_reply(self, frames: list[bytes]) -> None:
        """A reply on a direct connection (nothing else is expected there)."""
        if len(frames) != 3:
            self._transport.drop("frame_count")
            return
        try:
            _, kind, _, _, _, _ = header_fields(frames[1])
            if kind != _RPC_REP:
                raise FrameError("kind")
            reply = decode(REPLY, frames[2], "rpc_reply")
        except FrameError as exc:
            self._transport.drop(exc.reason, exc.detail)
            return
        self.on_reply(reply)

    def on_reply(self, reply: Reply[Any]) -> None:
        """An ``RPC_REP``: resolve the call it answers."""
        call = self._calls.get(reply.call_id)
        if call is None or call.future.done():
            return  # timed out already
        if reply.ok:
            call.future.set_result(reply.value)
            return
        try:
            fault = convert(reply.value, Fault, "rpc_reply")
        except FrameError as exc:
            # The call it answers is known: it fails now rather than at its timeout.
            self._transport.drop(exc.reason, exc.detail)
            fault = Fault("ProtocolError", f"malformed reply: {exc.detail}")
        call.future.set_exception(RemoteError(fault.type, fault.message, call.target, call.method))

    # -- serving --------------------------------------------------------------------------
    def parse_request(
        self, topic_b: bytes, header_b: bytes, payload_b: bytes, caller: str | None
    ) -> tuple[str, str, Call[Any]] | None:
        """``(topic, sender, call)`` of a direct request from ``caller`` (None: whoever
        the header names), or None (counted) when it is malformed or names another."""
        try:
            topic = parse_topic(topic_b)
            _, kind, sender, _, _, _ = header_fields(header_b)
            if kind != _RPC_REQ or not topic.startswith("rpc/"):
                raise FrameError("kind")
            if caller is not None and sender != caller:
                raise FrameError("sender")
            call = decode(CALL, payload_b, "rpc_request")
        except FrameError as exc:
            self._transport.drop(exc.reason, exc.detail)
            return None
        return topic, sender, call

    def on_request(
        self, topic: str, caller: str, call: Call[Any], reply_to: bytes | StreamPeer | None = None
    ) -> None:
        """An ``RPC_REQ``: run it on the local target and reply (to ``reply_to`` on the
        direct endpoint, else through the broker)."""
        call_id, method = call.call_id, call.method
        target = topic[len("rpc/") :]
        methods = self._bus.target_methods(target)
        if methods is None:
            error = ["LookupError", f"no RPC target {target!r}"]
            self.reply(caller, call_id, False, error, reply_to)
            return
        func = methods.get(method)
        if func is None:
            msg = f"{target!r} exposes no method {method!r}"
            self.reply(caller, call_id, False, ["AttributeError", msg], reply_to)
            return
        # Who calls, for the method (a permission check reads it) and the task it starts.
        token = self._transport.sender_var.set(caller)
        try:
            try:
                result = func(*call.args, **call.kwargs)
            except Exception as exc:
                self.reply(caller, call_id, False, [type(exc).__name__, str(exc)], reply_to)
                return
            if asyncio.iscoroutine(result):
                self._bus.spawn(
                    self._finish(caller, call_id, result, reply_to), name=f"rpc {target}.{method}"
                )
            else:
                self.reply(caller, call_id, True, result, reply_to)
        finally:
            self._transport.sender_var.reset(token)

    async def _finish(
        self, caller: str, call_id: int, coro: Any, reply_to: bytes | StreamPeer | None
    ) -> None:
        try:
            result = await coro
        except Exception as exc:
            self.reply(caller, call_id, False, [type(exc).__name__, str(exc)], reply_to)
        else:
            self.reply(caller, call_id, True, result, reply_to)

    def reply(
        self,
        caller: str,
        call_id: int,
        ok: bool,
        value: Any,
        reply_to: bytes | StreamPeer | None = None,
    ) -> None:
        header = pack_header(_RPC_REP, self._transport.node_id, 0, time.time())
        frames = [f"rpc/{caller}".encode(), header, pack_reply(call_id, ok, value)]
        if isinstance(reply_to, StreamPeer):
            if not reply_to.send(frames):  # the caller left, or does not read
                self._transport.drops["unroutable"] += 1
            return
        if reply_to is None or not self.routers.reply(reply_to, frames):
            self._transport.send_front(frames)
