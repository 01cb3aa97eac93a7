"""The broker's control plane: what it does for the control messages and RPC on its front,
once :mod:`hmi.bus.broker.doors` has let them in.

Each payload is decoded into its typed message (:mod:`hmi.bus.wire.control`) in one pass; one
that does not fit is counted by reason (``$sys/stats`` ``drops``), logged at most once per
reason every 10 s (:mod:`hmi.bus.wire.throttle`) saying which field is wrong, and dropped:
nothing of it is applied. Then: a hello is welcomed (and a node's first one announced on
``$sys/node/<id>/alive``), heartbeats and exposes go to the roster and the doors, snapshot
requests are answered from the cache, RPC requests and replies are routed (their arguments
and results skipped over, never built), and a node gone is announced dead, its tags marked.
The broker's I/O (``_route`` to one node, ``_publish`` to all) stays the broker's.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from hmi.bus.broker.brokerstats import NodeInfo
from hmi.bus.broker.roster import about_node
from hmi.bus.net.tickets import issue, new_key
from hmi.bus.wire.control import (
    ANY,
    CALL_RAW,
    EXPOSE,
    HEARTBEAT,
    HELLO,
    PREFIX,
    REPLY_RAW,
    Fault,
    Hello,
    NodeDead,
    Reply,
    Route,
    Welcome,
    decode,
    pack_control,
)
from hmi.bus.wire.frames import Flag, FrameError, Kind, pack_header, pack_payload
from hmi.bus.wire.throttle import Throttle

if TYPE_CHECKING:
    from hmi.bus.broker import Broker

log = logging.getLogger(__name__)

#: the broker's sender id in the headers of its own messages
SENDER = "$broker"
_HELLO, _HEARTBEAT, _SNAP_REQ = Kind.HELLO, Kind.HEARTBEAT, Kind.SNAPSHOT_REQ
_RPC_REQ, _RPC_REP, _BYE, _EXPOSE = Kind.RPC_REQ, Kind.RPC_REP, Kind.BYE, Kind.EXPOSE


class ControlPlane:
    """The control messages of one :class:`hmi.bus.broker.server.Broker`'s front."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        #: when a malformed payload of each reason was last logged
        self._drop_log = Throttle()

    def handle(  # noqa: PLR0917 - the parts of the message, as the front read them
        self,
        node: NodeInfo,
        ident: bytes,
        topic_b: bytes,
        topic: str,
        kind: int,
        header_b: bytes,
        payload_b: bytes,
    ) -> None:
        """A message of ``node`` that is not a publication (its sender checked)."""
        broker = self._broker
        doors = broker.doors
        try:
            if kind == _RPC_REP:
                reply = decode(REPLY_RAW, payload_b, "rpc_reply")  # (the result is skipped)
                if doors.may_reply(ident, topic_b, reply.call_id, broker.now):
                    broker._route(topic_b[len("rpc/") :], [topic_b, header_b, payload_b])
            elif kind == _RPC_REQ:
                if not topic_b.startswith(b"rpc/"):
                    # (the target is the rest of the topic: a right to publish on another
                    # prefix must not become a right to call)
                    raise FrameError("rpc_request", f"a request on {topic!r}, not rpc/<target>")
                if doors.may_call(node, topic, broker.now):
                    call = decode(CALL_RAW, payload_b, "rpc_request")  # (arguments skipped)
                    self.route_request(ident, topic, header_b, payload_b, call.call_id)
            elif kind == _HEARTBEAT:
                broker.roster.beat(node, decode(HEARTBEAT, payload_b, "heartbeat"))
            elif kind == _HELLO:
                self.hello(node, decode(HELLO, payload_b, "hello"))
            elif kind == _SNAP_REQ:
                self.snapshot(ident, decode(PREFIX, payload_b, "snapshot_request"))
            elif kind == _EXPOSE:
                doors.expose(node, decode(EXPOSE, payload_b, "expose"), broker.now)
            elif kind == _BYE:
                decode(ANY, payload_b, "bye")
                self.gone(node, "stopped")
                doors.left(node)
            else:
                broker.stats.drops["kind"] += 1
        except FrameError as exc:
            self._malformed(exc, ident, kind)

    def _malformed(self, exc: FrameError, ident: bytes, kind: int) -> None:
        """Count a payload that is not what its kind needs, and say what is wrong with it."""
        self._broker.stats.drops[exc.reason] += 1
        more = self._drop_log(exc.reason, self._broker.now)
        if more is not None:
            who = ident.decode(errors="replace")
            what = f"{Kind(kind).name}: {exc.detail}" if exc.detail else Kind(kind).name
            log.warning("dropped (%s): connection %r: %s%s", exc.reason, who, what, more)

    def route_request(
        self, ident: bytes, topic: str, header_b: bytes, payload_b: bytes, call_id: int
    ) -> None:
        """Route request ``call_id`` to the target's node, or answer LookupError."""
        broker = self._broker
        target = topic[len("rpc/") :]
        dest = broker.targets.get(target)
        if dest is not None and broker._route(dest, [topic.encode(), header_b, payload_b]):
            broker.doors.routed(ident, dest, call_id, broker.now)
            endpoint = self._direct_route(ident, dest, target)
            if endpoint:
                header = pack_header(Kind.ROUTE, SENDER, 0, time.time())
                broker._route(
                    ident, [topic.encode(), header, pack_control(Route(target, endpoint))]
                )
            return
        caller = broker.nodes[ident].sender
        fault = Fault("LookupError", f"no RPC target {target!r}")
        header = pack_header(Kind.RPC_REP, SENDER, 0, time.time())
        reply = pack_control(Reply(call_id, False, fault))
        broker._route(ident, [f"rpc/{caller}".encode(), header, reply])

    def _direct_route(self, ident: bytes, dest: bytes, target: str) -> str:
        """Where the caller ``ident`` may call ``target`` (served by ``dest``) directly,
        two hops fewer, or '' (no route).

        A caller that dials stream endpoints gets the target's, with a ticket for this
        caller and this target (hmi.bus.net.tickets): issued here, after this call passed
        the broker's checks, and checked by the target's node itself. Others get its
        ROUTER, and only without a policy: there every call must pass here."""
        broker = self._broker
        node, calling = broker.nodes.get(dest), broker.nodes.get(ident)
        if node is None or calling is None:
            return ""
        if node.rpc_stream and node.ticket_key and calling.streams:
            ticket = issue(node.ticket_key, calling.sender, target, time.time())
            return f"{node.rpc_stream}#{ticket}"
        return node.rpc if broker.policy is None else ""

    def hello(self, node: NodeInfo, hello: Hello) -> None:
        """Welcome a node (taking what its hello tells, claiming the targets it lists)."""
        broker = self._broker
        # A node says hello again on every new connection, and when it hears a broker id
        # it does not know (on the fast path anyone can publish such heartbeats): only its
        # first hello is news for the others.
        first = not node.said_hello
        broker.roster.hello(node, hello, direct=broker.policy is None)
        # (told in the welcome: a node whose key lacks a right says so itself)
        claims = [broker.doors.claim(node, name, broker.now) for name in hello.targets]
        refused = [why for why in claims if why]
        if node.rpc_stream and not node.ticket_key:
            node.ticket_key = new_key()  # (kept while the node is known: its tickets hold)
        header = pack_header(Kind.HELLO, SENDER, 0, time.time())
        welcome = Welcome(
            broker.id,
            broker.fast_endpoint,
            broker.heartbeat,
            node.ticket_key if node.rpc_stream else b"",
            publish=list(node.rule.publish) if node.rule is not None else None,
            serve=list(node.rule.serve) if node.rule is not None else None,
            refused=refused,
        )
        broker._route(node.ident, [b"$sys/broker", header, pack_control(welcome)])
        if first:
            about = about_node(node, broker.roster.served(node))
            broker._publish(f"$sys/node/{node.sender}/alive", pack_control(about))

    def snapshot(self, ident: bytes, prefix: str) -> None:
        """Answer a snapshot request: the cached values under ``prefix``, then the end."""
        broker = self._broker
        broker._catch_up()
        flags = int(Flag.FULL | Flag.REPLAY)
        for topic, entries in broker.cache.snapshot(prefix):
            header = pack_header(Kind.SNAPSHOT, SENDER, 0, time.time(), flags)
            broker._route(ident, [topic.encode(), header, pack_payload(entries)])
        # The end of the answer (also of an empty one): the node holds live batches of
        # these topics until here, so none older than the snapshot is applied after it.
        header = pack_header(Kind.SNAPSHOT, SENDER, 0, time.time(), int(Flag.REPLAY))
        broker._route(ident, [b"$sys/snapshot", header, pack_control(prefix)])

    def gone(self, node: NodeInfo, why: str) -> None:
        """A node died or left: withdraw its RPC targets, mark its tags, tell everyone."""
        broker = self._broker
        broker.doors.gone(node)
        broker._catch_up()
        for topic, entries in broker.cache.degrade(node.sender, f"{node.sender} {why}"):
            broker._publish(topic, pack_payload(entries))
        # with the targets it served until now (withdrawn): what a "node dead" alarm names
        about = about_node(node, sorted({*node.withdrawn, *node.served}))
        dead = NodeDead(about.id, about.name, about.host, about.targets, why)
        broker._publish(f"$sys/node/{node.sender}/dead", pack_control(dead))

    def back(self, node: NodeInfo) -> None:
        """A node declared dead is heard again (it had only paused): it gets its RPC
        targets back and is asked to republish its values, which the cache and every
        subscriber hold marked node dead (a node that never publishes them anew would
        otherwise stay so)."""
        broker = self._broker
        log.warning("node %s heard again: asking it to republish", node.sender)
        broker.roster.back(node)
        header = pack_header(Kind.REPUBLISH, SENDER, 0, time.time())
        broker._route(node.ident, [b"$sys/broker", header, pack_control(None)])
        about = about_node(node, broker.roster.served(node))
        broker._publish(f"$sys/node/{node.sender}/alive", pack_control(about))
