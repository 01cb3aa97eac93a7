"""The broker's roster (pure: no sockets, no clock): the nodes it knows, the RPC targets
each serves, and which nodes are alive, each judged by its own heartbeat interval.

The broker hands it what nodes say (hello, heartbeats, expose, bye) and the time; the
roster answers what follows (the nodes gone silent, a dead node heard again) and the
broker does the I/O: the welcome, the node-dead batches, ``$sys/node/...``, REPUBLISH.

A node declared dead for its silence may only have paused (a long GC or I/O pause, a
network blip): when it is heard again, :meth:`Roster.back` gives it its RPC targets back
(those no other node took meanwhile) and the broker asks it to republish its values.
"""

from __future__ import annotations

from typing import Any

from hmi.bus.brokerstats import NodeInfo
from hmi.bus.frames import DEAD_AFTER_BEATS

#: the heartbeat intervals (s) the broker accepts from nodes (others are clamped to these)
MIN_HEARTBEAT, MAX_HEARTBEAT = 0.05, 3600.0
#: a node's direct RPC endpoint must be one of these (plain sockets only)
_DIRECT = ("tcp://", "ipc://")


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
        #: the same nodes by sender id (shared with the ledger: the tap sees senders)
        self.senders = senders

    def join(self, ident: bytes, sender: str) -> NodeInfo:
        """A node heard for the first time (or again after its BYE)."""
        node = self.nodes[ident] = NodeInfo(ident, sender)
        self.senders.setdefault(sender, node)
        return node

    def hello(self, node: NodeInfo, payload: Any) -> bool:
        """Take what a HELLO tells (name, host, pid, heartbeat, rpc, targets); False when
        it is not a map (dropped)."""
        if not isinstance(payload, dict):
            return False
        node.name = str(payload.get("name", ""))
        node.host = str(payload.get("host", ""))
        pid = payload.get("pid", 0)
        node.pid = pid if type(pid) is int else 0
        node.heartbeat = _interval(payload.get("heartbeat"), 0.0)
        node.alive = True
        node.said_hello = True
        rpc = payload.get("rpc", "")
        node.rpc = (
            rpc if isinstance(rpc, str) and rpc.startswith(_DIRECT) and len(rpc) < 256 else ""
        )
        targets = payload.get("targets", [])
        if isinstance(targets, list):
            for target in targets:
                if isinstance(target, str):
                    self.targets[target] = node.ident
                    node.served.add(target)
        return True

    @staticmethod
    def beat(node: NodeInfo, payload: Any) -> None:
        """Take what a HEARTBEAT tells (pid, heartbeat interval)."""
        if isinstance(payload, dict):
            if type(payload.get("pid")) is int:
                node.pid = payload["pid"]
            node.heartbeat = _interval(payload.get("heartbeat"), node.heartbeat)

    def expose(self, ident: bytes, payload: Any) -> bool:
        """Add or withdraw an RPC target (``[target, exposed?]``); False when malformed."""
        if type(payload) is not list or len(payload) != 2 or not isinstance(payload[0], str):
            return False
        if payload[1]:
            self.targets[payload[0]] = ident
            node = self.nodes.get(ident)
            if node is not None:
                node.served.add(payload[0])
        elif self.targets.get(payload[0]) == ident:
            del self.targets[payload[0]]
        return True

    def leave(self, node: NodeInfo) -> None:
        """The node said BYE (after :meth:`dead`): forget it."""
        del self.nodes[node.ident]
        if self.senders.get(node.sender) is node:
            del self.senders[node.sender]

    def dead(self, node: NodeInfo) -> None:
        """The node died or left: withdraw its RPC targets (kept, should it come back)."""
        node.alive = False
        node.withdrawn = [name for name, ident in self.targets.items() if ident == node.ident]
        for name in node.withdrawn:
            del self.targets[name]

    def back(self, node: NodeInfo) -> None:
        """A node declared dead is heard again: alive, with the RPC targets it had (those
        no other node took meanwhile)."""
        node.alive = True
        for name in node.withdrawn:
            self.targets.setdefault(name, node.ident)
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


def about_node(node: NodeInfo, targets: list[str]) -> dict[str, Any]:
    """The payload of ``$sys/node/<id>/alive`` and ``/dead`` (docs/bus-protocol.md): the
    node's id, its bus name and host (from its HELLO), and RPC ``targets``."""
    return {"id": node.sender, "name": node.name, "host": node.host, "targets": targets}


def _interval(value: Any, default: float) -> float:
    """A heartbeat interval a node told (seconds, clamped), or ``default``."""
    if (type(value) is not float and type(value) is not int) or not value > 0:
        return default
    return min(MAX_HEARTBEAT, max(MIN_HEARTBEAT, float(value)))
