"""A Sparkplug B edge node's protocol state, without I/O (the h11 shape).

The caller owns the MQTT connection and the clock: :meth:`EdgeNode.session` gives the
NDEATH to register as the connection's will (with this session's ``bdSeq``), then
:meth:`births` the NBIRTH and DBIRTH to publish once connected, :meth:`data` a DDATA of
what changed, :meth:`command` reads an NCMD or DCMD. One Sparkplug device carries the
plant's tags; each tag is a metric named after it (``area/device/point``: Sparkplug hosts
such as Ignition show the ``/`` as folders) with a stable alias.

Sequence rules (Sparkplug B 3.0): ``seq`` is 0 in NBIRTH and counts every later message
of the node (births of devices and data too) modulo 256; ``bdSeq`` counts MQTT sessions
modulo 256 and is the same in a session's NBIRTH and the NDEATH of its will.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hmi.core.sample import NO_SAMPLE, Sample, Value
from hmi.core.tag import DataType
from hmi.drivers.sparkplug import payload as sp
from hmi.drivers.sparkplug import wire
from hmi.drivers.sparkplug.topics import MessageType, Topic, topic

#: the node metric a host sets true to ask for new births
REBIRTH = "Node Control/Rebirth"
BDSEQ = "bdSeq"


@dataclass(frozen=True, slots=True)
class Rebirth:
    """A host asked for new births (NCMD ``Node Control/Rebirth``)."""


@dataclass(frozen=True, slots=True)
class Write:
    """A host asked to write ``value`` to ``tag`` (one metric of a DCMD)."""

    tag: str
    value: Value


@dataclass(frozen=True, slots=True)
class Refused:
    """A command we cannot even name a tag for (unknown metric, unreadable payload)."""

    metric: str
    why: str


Event = Rebirth | Write | Refused
#: one changed tag: (name, value, Sparkplug quality code, source time)
Row = tuple[str, Value, int, float]


class EdgeNode:
    """Births, data by exception and commands of one edge node with one device."""

    def __init__(
        self, group: str, edge_node: str, device: str, tags: Iterable[tuple[str, DataType]]
    ) -> None:
        self.group = group
        self.edge_node = edge_node
        self.device = device
        self.types: dict[str, int] = {}
        #: tag -> alias, stable for the life of the node (1, 2, ... in the given order)
        self.aliases: dict[str, int] = {}
        for name, data_type in tags:
            self.types[name] = sp.DATATYPE_OF[data_type]
            self.aliases[name] = len(self.aliases) + 1
        self._names = {alias: name for name, alias in self.aliases.items()}
        #: per tag, the fixed bytes of its data metrics: (alias field, datatype field,
        #: datatype) and, for a float tag, what follows its timestamp when GOOD with its
        #: value's packer (:func:`wire.good_float_tail`)
        self._heads = {
            name: (
                (wire.metric_head(alias), wire.datatype_field(self.types[name]), self.types[name]),
                wire.good_float_tail(self.types[name]),
            )
            for name, alias in self.aliases.items()
        }
        self._ddata = self.topic(MessageType.DDATA)
        self._next_bdseq = 0
        #: this session's bdSeq (the will's and the NBIRTH's)
        self.bdseq = 0
        self._seq = 0
        #: what the host last got of each tag: the row it came in (value, quality code)
        self._sent: dict[str, Row] = {}

    # -- topics ---------------------------------------------------------------------------
    def topic(self, kind: MessageType) -> str:
        """The topic of a ``kind`` message of this node (or its device)."""
        return topic(self.group, kind, self.edge_node, self.device if kind.of_device else "")

    # -- messages -------------------------------------------------------------------------
    def session(self, now: float) -> tuple[str, bytes]:
        """Start an MQTT session: the NDEATH (topic, payload) to register as its will."""
        self.bdseq = self._next_bdseq
        self._next_bdseq = (self._next_bdseq + 1) % 256
        return self.death(now)

    def death(self, now: float) -> tuple[str, bytes]:
        """This session's NDEATH (a clean stop publishes it before disconnecting)."""
        metric = sp.Metric(name=BDSEQ, datatype=sp.UINT64, value=self.bdseq)
        return self.topic(MessageType.NDEATH), sp.encode(
            [metric], timestamp=sp.to_ms(now), seq=None
        )

    def births(self, samples: Mapping[str, Sample], now: float) -> list[tuple[str, bytes]]:
        """NBIRTH (seq 0) and DBIRTH with every tag's current value, name and alias."""
        ms = sp.to_ms(now)
        self._seq = 0
        node = [
            sp.Metric(name=BDSEQ, datatype=sp.UINT64, value=self.bdseq, timestamp=ms),
            sp.Metric(name=REBIRTH, datatype=sp.BOOLEAN, value=False, timestamp=ms),
        ]
        nbirth = sp.encode(node, timestamp=ms, seq=self._next_seq())
        self._sent.clear()
        metrics = [
            self._metric(name, samples.get(name, NO_SAMPLE), named=True) for name in self.types
        ]
        dbirth = sp.encode(metrics, timestamp=ms, seq=self._next_seq())
        return [(self.topic(MessageType.NBIRTH), nbirth), (self.topic(MessageType.DBIRTH), dbirth)]

    def data(self, changed: Mapping[str, Sample], now: float) -> tuple[str, bytes] | None:
        """A DDATA of the tags in ``changed`` whose value or quality the host has not got
        yet (by exception), by alias; None when there is none."""
        code = sp.quality_code
        rows = [(n, s.value, code(s.quality), s.source_time) for n, s in changed.items()]
        return self.data_rows(rows, now)

    def data_rows(self, rows: Iterable[Row], now: float) -> tuple[str, bytes] | None:
        """:meth:`data` of ``(tag, value, quality code, source time)`` rows: the hot path
        (a message per driver scan) needs no Sample objects, and is encoded by
        :mod:`~hmi.drivers.sparkplug.wire`."""
        heads = self._heads
        sent = self._sent
        good = sp.GOOD_CODE
        small = wire.SMALL
        metrics = []
        stamps: dict[float, bytes] = {}  # a scan's samples mostly share one source time
        for row in rows:
            name, value, code, when = row
            entry = heads.get(name)
            if entry is None:
                continue
            last = sent.get(name)
            if last is not None and last[2] == code and last[1] == value:
                continue
            sent[name] = row
            stamp = stamps.get(when)
            if stamp is None:
                stamp = stamps[when] = wire.stamp_field(int(when * 1000.0) if when else 0)
            head, fast = entry
            if fast is not None and code == good and type(value) is float:
                # the common case, a GOOD float: one concatenation (wire.frame inlined)
                body = head[0] + stamp + fast[0] + fast[1](value)
                size = len(body)
                metrics.append(b"\x12" + small[size] + body if size < 128 else wire.frame(body))
                continue
            out = value
            if not _fits(value, head[2]):
                out, code = None, sp.BAD_CODE
            metrics.append(wire.data_metric(head, stamp, out, wire.quality_field(code)))
        if not metrics:
            return None
        body = wire.data_payload(metrics, sp.to_ms(now), self._next_seq())
        return self._ddata, body

    def _metric(self, name: str, sample: Sample, *, named: bool) -> sp.Metric:
        datatype = self.types[name]
        value = sample.value
        code = sp.quality_code(sample.quality)
        if not _fits(value, datatype):
            value, code = None, sp.BAD_CODE
        self._sent[name] = (name, sample.value, code, sample.source_time)
        return sp.Metric(
            name=name if named else "",
            alias=self.aliases[name],
            datatype=datatype,
            value=value,
            timestamp=sp.to_ms(sample.source_time) if sample.source_time else 0,
            quality=code,
        )

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (seq + 1) % 256
        return seq

    # -- commands -------------------------------------------------------------------------
    def command(self, where: Topic, data: bytes) -> list[Event]:
        """What an NCMD or DCMD addressed to this node asks (empty: nothing for us)."""
        if where.group != self.group or where.edge_node != self.edge_node:
            return []
        try:
            decoded = sp.decode(data)
        except sp.PayloadError as exc:
            return [Refused("?", str(exc))]
        if where.type is MessageType.NCMD:
            rebirth = any(m.name == REBIRTH and m.value is True for m in decoded.metrics)
            return [Rebirth()] if rebirth else []
        if where.type is not MessageType.DCMD or where.device != self.device:
            return []
        events: list[Event] = []
        for metric in decoded.metrics:
            name = metric.name or self._names.get(metric.alias or 0, "")
            label = metric.name or f"alias {metric.alias}"
            if name not in self.types:
                events.append(Refused(label, f"no metric {label} on {self.device}"))
            else:
                events.append(Write(name, metric.value))
        return events


def _fits(value: Value, datatype: int) -> bool:
    """Whether ``value`` can be written as ``datatype`` (None always: a null metric)."""
    if value is None:
        return True
    if datatype == sp.BOOLEAN:
        return isinstance(value, bool | int)
    if datatype == sp.STRING:
        return isinstance(value, str)
    if not isinstance(value, int | float):
        return False
    # NaN and infinities are floats, never integers
    return datatype in (sp.FLOAT, sp.DOUBLE) or math.isfinite(value)
