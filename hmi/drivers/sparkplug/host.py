"""A Sparkplug B host's view of other edge nodes, without I/O: births, deaths, sequence
numbers and staleness turned into samples with quality, and rebirth requests.

The caller owns the MQTT connection and the clock; :meth:`HostState.receive` takes one
message, :meth:`HostState.stale` and :meth:`HostState.lost` are asked by its timer and its
connection. Each returns an :class:`Update`: the samples of bound tags that changed, and
the edge nodes to send an NCMD ``Node Control/Rebirth``.

Rules (Sparkplug B 3.0, host application):

- NBIRTH starts a node's session: its ``bdSeq`` is kept, ``seq`` must be 0; DBIRTH gives a
  device's metrics their names and aliases. Data (NDATA, DDATA) is read by alias or name.
- Each message of a node after its NBIRTH carries the next ``seq`` (modulo 256). A gap,
  data from a node whose birth we did not see, or a node heard again after it went
  stale: the values are applied and a rebirth is asked (once until the next NBIRTH).
- NDEATH (with the session's ``bdSeq``; an older session's will is ignored) turns every
  tag of the node BAD, DDEATH those of the device: ``no communication``, value kept.
- A node silent for ``stale_after`` seconds: its GOOD tags turn UNCERTAIN (last known
  value). The MQTT connection lost: every GOOD tag UNCERTAIN until births come again.
- A metric's ``Quality`` property sets its quality; a null value keeps the last value,
  BAD.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hmi.core.quality import Quality, Reason, Severity
from hmi.core.sample import NO_SAMPLE, Sample
from hmi.drivers.sparkplug import payload as sp
from hmi.drivers.sparkplug.edge import BDSEQ
from hmi.drivers.sparkplug.topics import MessageType, Topic

NodeKey = tuple[str, str]  # (group, edge node)


@dataclass(frozen=True, slots=True)
class Binding:
    """Tag ``tag`` is metric ``metric`` of ``device`` ("": the node's own) of an edge node."""

    tag: str
    group: str
    edge_node: str
    device: str
    metric: str


@dataclass
class Update:
    """What one message or check changed."""

    samples: dict[str, Sample] = field(default_factory=dict)
    #: edge nodes (group, edge node) to ask for a rebirth
    rebirth: list[NodeKey] = field(default_factory=list)


@dataclass
class _Node:
    online: bool = False
    bdseq: int | None = None
    seq: int = -1
    #: device ("" for the node) -> alias -> metric name, from the births
    aliases: dict[str, dict[int, str]] = field(default_factory=dict)
    heard: float = 0.0
    stale: bool = False
    rebirth_asked: bool = False
    #: a message of this node came in this MQTT session (a birth, data or its death)
    told: bool = False
    #: seconds of silence before its tags turn UNCERTAIN (None: the state's default)
    stale_after: float | None = None


class HostState:
    """Bound tags' samples from the messages of the edge nodes they belong to."""

    def __init__(self, stale_after: float = 0.0) -> None:
        #: seconds of silence before a node's tags turn UNCERTAIN (0: never), unless the
        #: node has its own (:meth:`set_stale_after`)
        self.stale_after = stale_after
        #: (group, edge node, device) -> metric name -> tag
        self._tags: dict[tuple[str, str, str], dict[str, str]] = {}
        self._nodes: dict[NodeKey, _Node] = {}
        #: the last sample of every bound tag
        self.last: dict[str, Sample] = {}
        #: counters, for status and tests
        self.gaps = 0
        self.malformed = 0

    # -- bindings -------------------------------------------------------------------------
    def bind(self, bindings: Iterable[Binding]) -> None:
        """Serve these tags (from the next message that names them)."""
        for b in bindings:
            self._tags.setdefault((b.group, b.edge_node, b.device), {})[b.metric] = b.tag
            self._nodes.setdefault((b.group, b.edge_node), _Node())

    def unbind(self, tags: Iterable[str]) -> None:
        """Stop serving ``tags``."""
        gone = set(tags)
        for metrics in self._tags.values():
            for metric in [m for m, t in metrics.items() if t in gone]:
                del metrics[metric]
        for tag in gone:
            self.last.pop(tag, None)
        used = {(g, e) for (g, e, _), metrics in self._tags.items() if metrics}
        for key in [k for k in self._nodes if k not in used]:
            del self._nodes[key]

    def set_stale_after(self, group: str, edge_node: str, seconds: float) -> None:
        """The staleness bound of one (bound) edge node; 0: never stale."""
        node = self._nodes.get((group, edge_node))
        if node is not None:
            node.stale_after = seconds

    @property
    def shortest_stale_after(self) -> float:
        """The shortest bound in force (0: none), for the caller's timer."""
        bounds = [self._bound(node) for node in self._nodes.values()]
        return min((b for b in bounds if b > 0), default=0.0)

    def _bound(self, node: _Node) -> float:
        return self.stale_after if node.stale_after is None else node.stale_after

    @property
    def nodes(self) -> list[NodeKey]:
        """The edge nodes some bound tag belongs to."""
        return list(self._nodes)

    def online(self, group: str, edge_node: str) -> bool:
        """True between the node's NBIRTH and its NDEATH."""
        node = self._nodes.get((group, edge_node))
        return node is not None and node.online

    def told(self, group: str, edge_node: str) -> bool:
        """True once a message of the node came in this MQTT session (False: not yet
        known to be alive or dead)."""
        node = self._nodes.get((group, edge_node))
        return node is not None and node.told

    # -- messages -------------------------------------------------------------------------
    def receive(self, where: Topic, data: bytes, now: float) -> Update:
        """The effect of one message of an edge node."""
        update = Update()
        key = (where.group, where.edge_node)
        node = self._nodes.get(key)
        if node is None:
            return update  # a node none of our tags is on
        try:
            message = sp.decode(data)
        except sp.PayloadError:
            self.malformed += 1
            return update
        kind = where.type
        if kind in (MessageType.NCMD, MessageType.DCMD):
            return update  # another host's commands
        node.told = True
        if kind is MessageType.NDEATH:
            bdseq = _bdseq(message)
            if node.online and (bdseq is None or bdseq == node.bdseq):
                node.online = False
                self._degrade_node(
                    key, Quality.bad(Reason.NO_COMMUNICATION, _dead(key)), now, update
                )
            return update
        node.heard = now
        if node.stale:
            node.stale = False
            self._ask_rebirth(key, node, update)  # its other values may have moved meanwhile
        if kind is MessageType.NBIRTH:
            node.online = True
            node.bdseq = _bdseq(message)
            node.seq = message.seq if message.seq is not None else 0
            node.aliases = {}
            node.rebirth_asked = False
            if message.seq not in (0, None):
                self._gap(key, node, update)
            self._apply(key, "", message, now, update, birth=True)
            return update
        if not node.online:
            self._ask_rebirth(key, node, update)  # data of a session we did not see born
            return update
        self._check_seq(key, node, message.seq, update)
        device = where.device
        if kind is MessageType.DDEATH:
            why = f"{_name(key)}/{device} dead (DDEATH)"
            self._degrade(
                self._tags.get((*key, device), {}).values(),
                Quality.bad(Reason.NO_COMMUNICATION, why),
                now,
                update,
            )
            return update
        self._apply(key, device, message, now, update, birth=kind is MessageType.DBIRTH)
        return update

    def _apply(
        self,
        key: NodeKey,
        device: str,
        message: sp.Payload,
        now: float,
        update: Update,
        *,
        birth: bool,
    ) -> None:
        node = self._nodes[key]
        aliases = node.aliases.setdefault(device, {})
        tags = self._tags.get((*key, device), {})
        for metric in message.metrics:
            name = metric.name
            if name and metric.alias is not None and birth:
                aliases[metric.alias] = name
            elif not name and metric.alias is not None:
                name = aliases.get(metric.alias, "")
            tag = tags.get(name)
            if tag is None or metric.is_historical:
                continue
            when = metric.timestamp / 1000.0 if metric.timestamp else now
            last = self.last.get(tag, NO_SAMPLE)
            if metric.value is None:
                sample = Sample(
                    last.value, Quality.bad(Reason.DEVICE_FAILURE, "null value"), when, now
                )
            else:
                sample = Sample(metric.value, sp.quality_of(metric.quality), when, now)
            self.last[tag] = update.samples[tag] = sample

    def _check_seq(self, key: NodeKey, node: _Node, seq: int | None, update: Update) -> None:
        expected = (node.seq + 1) % 256
        if seq is not None:
            node.seq = seq
        if seq != expected:
            self._gap(key, node, update)

    def _gap(self, key: NodeKey, node: _Node, update: Update) -> None:
        self.gaps += 1
        self._ask_rebirth(key, node, update)

    def _ask_rebirth(self, key: NodeKey, node: _Node, update: Update) -> None:
        if not node.rebirth_asked:
            node.rebirth_asked = True
            update.rebirth.append(key)

    # -- time and the connection ----------------------------------------------------------
    def stale(self, now: float) -> Update:
        """GOOD tags of online nodes silent for their ``stale_after`` turn UNCERTAIN."""
        update = Update()
        for key, node in self._nodes.items():
            after = self._bound(node)
            if after <= 0 or not node.online or node.stale or now - node.heard < after:
                continue
            node.stale = True
            why = f"no message from {_name(key)} for {after:g} s"
            quality = Quality.uncertain(Reason.LAST_KNOWN_VALUE, why)
            self._degrade_node(key, quality, now, update, only_good=True)
        return update

    def lost(self, why: str, now: float) -> Update:
        """The MQTT connection is gone: every GOOD tag UNCERTAIN; births are awaited."""
        update = Update()
        quality = Quality.uncertain(Reason.LAST_KNOWN_VALUE, why)
        for key, node in self._nodes.items():
            node.online = False
            node.rebirth_asked = False
            self._degrade_node(key, quality, now, update, only_good=True)
        return update

    def connected(self) -> Update:
        """A (new) MQTT session: ask every node for its births (ours may have been missed)."""
        update = Update()
        for key, node in self._nodes.items():
            node.rebirth_asked = False
            node.told = False
            self._ask_rebirth(key, node, update)
        return update

    # -- degrading ------------------------------------------------------------------------
    def _degrade_node(
        self, key: NodeKey, quality: Quality, now: float, update: Update, *, only_good: bool = False
    ) -> None:
        tags = [t for (g, e, _), m in self._tags.items() if (g, e) == key for t in m.values()]
        self._degrade(tags, quality, now, update, only_good=only_good)

    def _degrade(
        self,
        tags: Iterable[str],
        quality: Quality,
        now: float,
        update: Update,
        *,
        only_good: bool = False,
    ) -> None:
        for tag in tags:
            last = self.last.get(tag)
            if last is None:
                continue  # never had a value: still "waiting for initial data"
            if only_good and last.quality.severity is not Severity.GOOD:
                continue
            self.last[tag] = update.samples[tag] = last.degraded(quality, now)


def _bdseq(message: sp.Payload) -> int | None:
    for metric in message.metrics:
        if metric.name == BDSEQ and isinstance(metric.value, int):
            return metric.value
    return None


def _name(key: NodeKey) -> str:
    return f"{key[0]}/{key[1]}"


def _dead(key: NodeKey) -> str:
    return f"edge node {_name(key)} dead (NDEATH)"


def bindings_by_node(bindings: Iterable[Binding]) -> Mapping[NodeKey, list[Binding]]:
    """``bindings`` grouped by edge node."""
    grouped: dict[NodeKey, list[Binding]] = {}
    for b in bindings:
        grouped.setdefault((b.group, b.edge_node), []).append(b)
    return grouped
