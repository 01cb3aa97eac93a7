"""The broker's roster (pure: no sockets, no clock): the nodes it knows, the RPC targets
each serves, and which nodes are alive, each judged by its own heartbeat interval.

The broker hands it what nodes say (hello, heartbeats, expose, bye) and the time; the
roster answers what follows (the nodes gone silent, a dead node heard again) and the
broker does the I/O: the welcome, the node-dead batches, ``$sys/node/...``, REPUBLISH.

A node declared dead for its silence may only have paused (a long GC or I/O pause, a
network blip): when it is heard again, :meth:`Roster.back` gives it its RPC targets back
(those no other node took meanwhile) and the broker asks it to republish its values.

An RPC target name belongs to the live node that serves it: another node's claim
(:meth:`Roster.claim`, from its HELLO or EXPOSE) is refused, and waits. When the name is
free again (its node withdrew it, or died) it goes to the first live node waiting for it:
a restarted backend that exposed ``security`` before the broker declared its previous
process dead gets the name then, without exposing it again. With a policy, a node may
claim only the names its key may serve (``serve:``, :class:`hmi.bus.net.auth.ClientRule`).

Bounded (docs/bus-protocol.md, "Bounds"): a node that never said HELLO (HELLO and
HEARTBEAT are optional) is no longer alive once silent for its limit (:meth:`Roster.quiet`:
it never promised to beat, so nothing is announced or marked for it); a node that is not
alive is forgotten after the broker's ``forget_after`` (:meth:`Roster.gone`); at most
:data:`MAX_NODES` nodes are known, and at most :data:`MAX_NODES_PER_KEY` of one CURVE key
(a new one beyond that makes the nodes longest not alive give their places, a tenth of
the bound at once, or is not heard when all are alive); a node serves at most
:data:`MAX_TARGETS` names, and waits for at most as many.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from hmi.bus.broker.brokerstats import NodeInfo
from hmi.bus.wire.address import is_stream_endpoint
from hmi.bus.wire.control import Heartbeat, Hello, NodeAlive
from hmi.bus.wire.frames import DEAD_AFTER_BEATS

#: the heartbeat intervals (s) the broker accepts from nodes (others are clamped to these)
MIN_HEARTBEAT, MAX_HEARTBEAT = 0.05, 3600.0
#: a node's direct RPC endpoint must be one of these (plain sockets only)
_DIRECT = ("tcp://", "ipc://")
#: why a claim of an RPC target is refused: no serve right for it (its key's policy)
SERVE = "serve"
#: why a claim of an RPC target is refused: a live node serves it (the claim waits)
TAKEN = "taken"
#: why a claim of an RPC target is refused: the node serves MAX_TARGETS names already
TARGETS = "targets"
#: nodes the broker knows at most (alive or not yet forgotten)
MAX_NODES = 10_000
#: nodes one CURVE key has at most (a key is one node, or a few processes; a node that
#: restarts comes with a new id): an admitted key cannot fill the roster on its own
MAX_NODES_PER_KEY = 1_000
#: the share of the bound (MAX_NODES, MAX_NODES_PER_KEY) forgotten at once to make room
#: (the longest gone first): a flood of new ids costs one look over the roster per that
#: many, not one per id
EVICT_SHARE = 0.1
#: RPC target names one node serves at most
MAX_TARGETS = 1_000


class Roster:
    """The nodes of one broker, by routing id, and the RPC targets they serve."""

    def __init__(
        self, heartbeat: float, dead_after: float | None, senders: dict[str, NodeInfo]
    ) -> None:
        #: the broker's heartbeat interval (judges the nodes that told none)
        self.heartbeat = heartbeat
        #: silent seconds before any node is dead; None: DEAD_AFTER_BEATS of its interval
        self.dead_after = dead_after
        self.nodes: dict[bytes, NodeInfo] = {}
        #: RPC target -> the routing id of the node serving it
        self.targets: dict[str, bytes] = {}
        #: RPC target -> the routing ids of nodes whose claims wait for it, in order
        self.waiting: dict[str, dict[bytes, None]] = {}
        #: the same nodes by sender id (shared with the ledger: the tap sees senders)
        self.senders = senders
        #: forgets a node that is not alive to make room for a new one (the broker's
        #: forget, which also forgets what else it keeps of the node)
        self.evict: Callable[[NodeInfo], None] = self.leave
        #: the roster was found full of live nodes, and none has died since: a new id is
        #: turned away without looking again (a flood of new ids would cost a look each)
        self._all_alive = False
        #: CURVE key -> how many nodes came with it; the keys whose nodes were all found
        #: alive (as _all_alive, per key)
        self.per_key: Counter[str] = Counter()
        self._keys_all_alive: set[str] = set()
        #: routing id -> how many names its claims wait for (at most MAX_TARGETS)
        self.waits: Counter[bytes] = Counter()

    def join(self, ident: bytes, sender: str, key: str = "", rule: Any = None) -> NodeInfo | None:
        """A node heard for the first time (or again after its BYE), with the CURVE key it
        came with and that key's rule of the policy (None: no policy); None when the
        roster is full of live nodes (:data:`MAX_NODES`), or the key has as many
        (:data:`MAX_NODES_PER_KEY`): the node is not heard."""
        old = self.nodes.get(ident)
        if old is not None:
            self._count_key(old.key, -1)
        else:
            if key and self.per_key[key] >= MAX_NODES_PER_KEY and not self._make_room(key):
                return None
            if len(self.nodes) >= MAX_NODES and not self._make_room():
                return None
        node = self.nodes[ident] = NodeInfo(ident, sender, key, rule)
        self._count_key(key, 1)
        self.senders.setdefault(sender, node)
        return node

    def _count_key(self, key: str, change: int) -> None:
        if key:  # (without CURVE every node has the key '': not counted)
            self.per_key[key] += change
            if self.per_key[key] <= 0:
                del self.per_key[key]

    def _make_room(self, key: str | None = None) -> bool:
        """Forget the nodes longest gone (of ``key``, when given), EVICT_SHARE of the
        bound at most; False when every such node is alive (nothing is forgotten)."""
        if self._all_alive if key is None else key in self._keys_all_alive:
            return False
        resting = [
            node
            for node in self.nodes.values()
            if not node.alive and (key is None or node.key == key)
        ]
        if not resting:
            if key is None:
                self._all_alive = True
            else:
                self._keys_all_alive.add(key)
            return False
        resting.sort(key=lambda node: node.last_seen)
        bound = MAX_NODES if key is None else MAX_NODES_PER_KEY
        for node in resting[: max(1, int(bound * EVICT_SHARE))]:
            self.evict(node)
        return True

    def _died(self) -> None:
        """A node is no longer alive: the next new id may find room again."""
        self._all_alive = False
        self._keys_all_alive.clear()

    def hello(self, node: NodeInfo, hello: Hello, *, direct: bool = True) -> None:
        """Take what a HELLO tells (name, host, pid, heartbeat, rpc). Its ``targets`` are
        claimed by the caller (:meth:`claim`, each with its own answer). ``direct=False``:
        the node's direct RPC endpoint is not kept (a broker that checks every call never
        tells callers about it)."""
        node.name = hello.name
        node.host = hello.host
        node.pid = hello.pid
        node.heartbeat = _interval(hello.heartbeat, 0.0)
        node.alive = True
        node.said_hello = True
        rpc, stream = hello.rpc, hello.rpc_stream
        # (a plain socket on this machine or the network; anything else is not dialled)
        node.rpc = rpc if direct and rpc.startswith(_DIRECT) and len(rpc) < 256 else ""
        # (calls there need a ticket the broker issues after its own checks: kept under a
        # policy too)
        node.rpc_stream = stream if is_stream_endpoint(stream) else ""
        node.streams = hello.streams

    @staticmethod
    def beat(node: NodeInfo, beat: Heartbeat) -> None:
        """Take what a HEARTBEAT tells (pid, heartbeat interval; 0: not told)."""
        if beat.pid is not None:
            node.pid = beat.pid
        node.heartbeat = _interval(beat.heartbeat, node.heartbeat)

    def claim(self, node: NodeInfo, name: str) -> str:
        """``node`` exposes RPC target ``name``: '' when it serves it now; ``serve`` when
        its key may not serve it (nothing kept); ``taken`` when another live node serves
        it (the claim waits until the name is free)."""
        if node.rule is not None and not node.rule.may_serve(name):
            return SERVE
        if name not in node.served and len(node.served) >= MAX_TARGETS:
            return TARGETS
        owner = self.targets.get(name)
        if owner is not None and owner != node.ident:
            holder = self.nodes.get(owner)
            if holder is not None and holder.alive:
                claims = self.waiting.get(name)
                if claims is None or node.ident not in claims:
                    if self.waits[node.ident] >= MAX_TARGETS:  # (as many as it may serve)
                        return TARGETS
                    self.waits[node.ident] += 1
                    if claims is None:
                        claims = self.waiting[name] = {}
                claims[node.ident] = None
                return TAKEN
        self.targets[name] = node.ident
        node.served.add(name)
        return ""

    def withdraw(self, node: NodeInfo, name: str) -> NodeInfo | None:
        """``node`` withdraws RPC target ``name`` (nothing happens unless it serves it, or
        waits for it); the node that gets the name now, if one waited for it."""
        claims = self.waiting.get(name)
        if claims is not None and node.ident in claims:
            del claims[node.ident]
            self._unwait(node.ident)
            if not claims:
                del self.waiting[name]
        if self.targets.get(name) != node.ident:
            return None
        del self.targets[name]
        return self._free(name)

    def _free(self, name: str) -> NodeInfo | None:
        """Name ``name`` is free: the first live node waiting for it gets it."""
        claims = self.waiting.pop(name, None)
        while claims:
            ident = next(iter(claims))
            del claims[ident]
            self._unwait(ident)
            node = self.nodes.get(ident)
            if node is not None and node.alive:
                self.targets[name] = ident
                node.served.add(name)
                if claims:
                    self.waiting[name] = claims
                return node
        return None

    def leave(self, node: NodeInfo) -> None:
        """The node said BYE (after :meth:`dead`): forget it, and the claims it waited with."""
        del self.nodes[node.ident]
        self._count_key(node.key, -1)
        if self.senders.get(node.sender) is node:
            del self.senders[node.sender]
        if self.waits.pop(node.ident, 0):
            for name in [name for name, claims in self.waiting.items() if node.ident in claims]:
                del self.waiting[name][node.ident]
                if not self.waiting[name]:
                    del self.waiting[name]

    def _unwait(self, ident: bytes) -> None:
        """A claim of the node ``ident`` waits no more."""
        self.waits[ident] -= 1
        if self.waits[ident] <= 0:
            del self.waits[ident]

    def dead(self, node: NodeInfo) -> list[tuple[str, NodeInfo]]:
        """The node died or left: withdraw its RPC targets (kept, should it come back);
        each goes to the first live node waiting for it: ``(name, node)`` of those."""
        node.alive = False
        self._died()
        node.withdrawn = [name for name, ident in self.targets.items() if ident == node.ident]
        given = []
        for name in node.withdrawn:
            del self.targets[name]
            heir = self._free(name)
            if heir is not None:
                given.append((name, heir))
        return given

    def back(self, node: NodeInfo) -> None:
        """A node declared dead is heard again: alive, with the RPC targets it had (those
        another node took meanwhile: its claims wait for them)."""
        node.alive = True
        for name in node.withdrawn:
            self.claim(node, name)
        node.withdrawn = []

    def served(self, node: NodeInfo) -> list[str]:
        """The RPC targets ``node`` serves now, sorted."""
        return sorted(name for name, ident in self.targets.items() if ident == node.ident)

    def limit(self, node: NodeInfo) -> float:
        """Silent seconds before ``node`` is dead: DEAD_AFTER_BEATS of its own heartbeat
        interval (of the broker's when it told none), or ``dead_after`` when given."""
        if self.dead_after:
            return self.dead_after
        return DEAD_AFTER_BEATS * (node.heartbeat or self.heartbeat)

    def period(self, longest: float) -> float:
        """How often to look for silent nodes: at most ``longest`` seconds, and at least
        as often as the fastest live node beats."""
        period = longest
        for node in self.nodes.values():
            if node.heartbeat and node.alive:
                period = min(period, node.heartbeat)
        return period

    def silent(self, now: float) -> list[NodeInfo]:
        """The live nodes (that said hello) not heard for longer than their limit."""
        return [
            node
            for node in self.nodes.values()
            if node.alive and node.said_hello and now - node.last_seen > self.limit(node)
        ]

    def quiet(self, now: float) -> list[NodeInfo]:
        """The nodes that never said hello, silent for longer than their limit: no longer
        alive (quietly: they promised no heartbeat, and no birth was announced)."""
        quiet = [
            node
            for node in self.nodes.values()
            if node.alive and not node.said_hello and now - node.last_seen > self.limit(node)
        ]
        for node in quiet:
            node.alive = False
        if quiet:
            self._died()
        return quiet

    def gone(self, now: float, after: float) -> list[NodeInfo]:
        """The nodes not alive and not heard for ``after`` seconds: to be forgotten."""
        return [
            node for node in self.nodes.values() if not node.alive and now - node.last_seen > after
        ]

    def alive_sender(self, sender: str) -> bool:
        """True when a live node has the sender id ``sender``."""
        node = self.senders.get(sender)
        return node is not None and node.alive


def about_node(node: NodeInfo, targets: list[str]) -> NodeAlive:
    """The payload of ``$sys/node/<id>/alive`` (docs/bus-protocol.md): the node's id, its
    bus name and host (from its HELLO), and RPC ``targets``."""
    return NodeAlive(node.sender, node.name, node.host, targets)


def some(nodes: list[NodeInfo], shown: int = 3) -> str:
    """The ids of the first ``shown`` of ``nodes`` and how many more, for one log line."""
    names = ", ".join(node.sender for node in nodes[:shown])
    return names + (f" and {len(nodes) - shown} more" if len(nodes) > shown else "")


def _interval(value: float, default: float) -> float:
    """A heartbeat interval a node told (seconds, clamped), or ``default`` when it told
    none (0; a negative or NaN one is taken for none too)."""
    if not value > 0:
        return default
    return min(MAX_HEARTBEAT, max(MIN_HEARTBEAT, value))
