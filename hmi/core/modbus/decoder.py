"""Block decoders compiled at plan time: one read response -> samples, mostly in C.

Decoding a block point by point (:func:`decode_reference`, the definition of what a
response means) costs about 3.6 us a point: per point a slice, a list, a bytes join and
a ``struct`` call. A :class:`BlockDecoder` does the per-block work once, when the block
is planned: the response's registers are packed into bytes with one ``struct`` call,
and every value is unpacked with one or a few prepared ``struct.Struct`` formats (pad
bytes over gaps), in the byte and word order of each point. Python code then only runs
for points that need it: a bit of a register, a bool, a string, scaling, and the
finiteness check of floats.

All four byte/word orders are plain ``struct`` codes over one of two buffers: the
registers as sent (``raw``, each register big-endian) and the same registers with their
two bytes swapped (``swapped``):

===========  ===========  ======  ==========
byte order   word order   buffer  endianness
===========  ===========  ======  ==========
big          big          raw     ``>``
little       little       raw     ``<`` (all bytes reversed)
little       big          swapped ``>``
big          little       swapped ``<``
===========  ===========  ======  ==========

The result equals :func:`decode_reference` for every block and response (property-
tested); a response that ``struct`` refuses (a register outside 0..65535, not an
integer) is handed to the reference, which decides what it means.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from hmi.core.address import Table
from hmi.core.modbus.codec import _FORMATS, CodecError, Point, decode_registers
from hmi.core.quality import GOOD, Quality, Reason
from hmi.core.sample import Sample, Value
from hmi.core.tag import DataType


class ResponseError(ValueError):
    """A response that does not match its request (e.g. a wrong byte count)."""


def decode_reference(
    label: str,
    *,
    table: Table,
    start: int,
    count: int,
    points: Sequence[Point],
    data: Sequence[int] | Sequence[bool],
    now: float,
) -> dict[str, Sample]:
    """Samples for ``points`` from the read ``data``, decoded point by point.

    The definition compiled decoders must match (see the module docstring); ``label``
    names the block in errors.
    """
    if table.is_bits:
        # Bits arrive padded to whole bytes.
        if not count <= len(data) < count + 8:
            raise ResponseError(f"{label}: expected {count} bits, got {len(data)}")
    elif len(data) != count:
        raise ResponseError(f"{label}: expected {count} registers, got {len(data)}")
    samples: dict[str, Sample] = {}
    for point in points:
        offset = point.start - start
        if table.is_bits:
            samples[point.tag] = Sample(bool(data[offset]), Quality.good(), now, now)
            continue
        try:
            value = decode_registers(point, [int(v) for v in data[offset : offset + point.size]])
        except CodecError as exc:
            samples[point.tag] = Sample(None, Quality.bad(Reason.CONFIG_ERROR, str(exc)), now, now)
            continue
        samples[point.tag] = _checked(value, now)
    return samples


def _checked(value: Value, now: float) -> Sample:
    if isinstance(value, float) and not math.isfinite(value):
        return _sensor_failure(value, now)
    return Sample(value, Quality.good(), now, now)


def _sensor_failure(value: float, now: float) -> Sample:
    return Sample(value, Quality.bad(Reason.SENSOR_FAILURE, f"device sent {value}"), now, now)


# Sample is a frozen dataclass with slots: its __init__ sets each field through
# object.__setattr__, and making 125 of them was most of what is left of decoding a
# block (64 us). _Unfrozen has Sample's slots and no frozen __setattr__: fill one, then
# make it a Sample by assigning __class__ (Python allows that between classes whose slots
# are the same): the same object (the property tests compare them) in a quarter of the
# time (17 us). If Sample's layout ever changes, or it gains a __post_init__ to run, the
# constructor is used.
_SLOTS = ("value", "quality", "source_time", "receive_time")


class _Unfrozen:
    __slots__ = _SLOTS
    value: Value
    quality: Quality
    source_time: float
    receive_time: float


def _can_unfreeze() -> bool:
    if getattr(Sample, "__slots__", None) != _SLOTS or hasattr(Sample, "__post_init__"):
        return False
    probe = _Unfrozen()
    try:
        probe.__class__ = Sample  # type: ignore[assignment]
    except TypeError:
        return False
    return True


_FAST_SAMPLE = _can_unfreeze()


def _good_samples(values: Iterable[Value], now: float) -> list[Sample]:
    """``Sample(value, GOOD, now, now)`` for each of ``values``."""
    if not _FAST_SAMPLE:
        return [Sample(v, GOOD, now, now) for v in values]
    out: list[Any] = []
    append, unfrozen, sample_class, good = out.append, _Unfrozen, Sample, GOOD
    for value in values:
        sample = unfrozen()
        sample.value = value
        sample.quality = good
        sample.source_time = now
        sample.receive_time = now
        sample.__class__ = sample_class  # type: ignore[assignment]
        append(sample)
    return out


#: a point's value from what its struct code unpacked
_Post = Callable[[Any], Value]


def _bit(bit: int) -> _Post:
    return lambda register: bool((register >> bit) & 1)


def _text(reverse: bool) -> _Post:
    # Devices pad strings with NULs or spaces; neither is part of the text.
    if reverse:
        return lambda raw: raw[::-1].split(b"\x00", 1)[0].decode("latin-1").rstrip(" ")
    return lambda raw: raw.split(b"\x00", 1)[0].decode("latin-1").rstrip(" ")


_KNOWN = frozenset({*_FORMATS, DataType.BOOL, DataType.STRING})


def _nonzero(register: int) -> bool:
    return register != 0


@dataclass(frozen=True, slots=True)
class _Field:
    """Where one point's value lies: buffer, endianness, byte offset, struct code."""

    #: the point's index in the block
    position: int
    #: in the buffer with each register's bytes swapped (else as sent)
    swapped: bool
    endian: str
    offset: int
    code: str
    size: int


def _field(position: int, point: Point, offset: int) -> tuple[_Field, _Post | None, bool]:
    """The field of ``point`` (``offset`` bytes into the block), its post-processing,
    and whether its value may be a float to check for finiteness."""
    data_type = point.data_type
    if point.address.bit is not None:
        return _Field(position, False, ">", offset, "H", 2), _bit(point.address.bit), False
    if data_type is DataType.BOOL:
        return _Field(position, False, ">", offset, "H", 2), _nonzero, False
    byte_little = point.byte_order == "little"
    word_little = point.word_order == "little"
    if data_type is DataType.STRING:
        size = 2 * point.size
        # Reversing the other buffer's bytes reverses the word order (module docstring).
        swapped = byte_little != word_little
        return _Field(position, swapped, ">", offset, f"{size}s", size), _text(word_little), False
    code = _FORMATS[data_type]
    size = struct.calcsize(code)
    if size == 2:  # one register: the word order does not apply
        swapped, endian = False, "<" if byte_little else ">"
    else:
        swapped, endian = byte_little != word_little, "<" if word_little else ">"
    scaling = point.scaling
    post = None if scaling is None else scaling.to_eng
    may_float = data_type in (DataType.FLOAT32, DataType.FLOAT64) or post is not None
    return _Field(position, swapped, endian, offset, code[1:], size), post, may_float


class _Layer:
    """One prepared ``struct.Struct`` over one buffer: non-overlapping fields, pads between."""

    __slots__ = ("fields", "offset", "struct", "swapped")

    def __init__(self, swapped: bool, fields: list[_Field]) -> None:
        self.swapped, self.fields, self.offset = swapped, fields, fields[0].offset
        parts, at = [fields[0].endian], self.offset
        for f in fields:
            if f.offset > at:
                parts.append(f"{f.offset - at}x")
            parts.append(f.code)
            at = f.offset + f.size
        self.struct = struct.Struct("".join(parts))


def _layers(fields: list[_Field]) -> list[_Layer]:
    """Group fields into the fewest structs: one per buffer and endianness, plus one more
    per overlap (e.g. bits of one register, a register read as two types)."""
    layers: list[_Layer] = []
    for swapped in (False, True):
        for endian in (">", "<"):
            chosen = [f for f in fields if f.swapped is swapped and f.endian == endian]
            chosen.sort(key=lambda f: (f.offset, f.position))
            stacks: list[list[_Field]] = []
            for f in chosen:
                for stack in stacks:
                    last = stack[-1]
                    if last.offset + last.size <= f.offset:
                        stack.append(f)
                        break
                else:
                    stacks.append([f])
            layers.extend(_Layer(swapped, stack) for stack in stacks)
    return layers


class BlockDecoder:
    """The decoder of one block (table, range and points), compiled once.

    :meth:`decode` returns what :func:`decode_reference` returns for the same block.
    """

    __slots__ = (
        "_bit_offsets",
        "_checks",
        "_count",
        "_label",
        "_layers",
        "_order",
        "_pack",
        "_pack_swapped",
        "_points",
        "_posts",
        "_start",
        "_table",
        "_tags",
    )

    def __init__(
        self, label: str, table: Table, start: int, count: int, points: Sequence[Point]
    ) -> None:
        self._label, self._table, self._start, self._count = label, table, start, count
        self._points = tuple(points)
        self._tags = [p.tag for p in points]
        self._bit_offsets: Callable[[Any], Any] | None = None
        self._layers: list[_Layer] = []
        self._order: Callable[[Any], Any] | None = None
        self._posts: list[tuple[int, _Post]] = []
        self._checks: list[int] = []
        self._pack: struct.Struct | None = None
        self._pack_swapped: struct.Struct | None = None
        if any(p.start < start or p.end > start + count for p in points):
            return  # not a planned block: the reference decides what it means
        if table.is_bits:
            self._bit_offsets = _getter([p.start - start for p in points])
            return
        if any(p.address.bit is None and p.data_type not in _KNOWN for p in points):
            return  # a type this decoder does not know: the reference's business
        fields = []
        for position, point in enumerate(points):
            field, post, may_float = _field(position, point, 2 * (point.start - start))
            fields.append(field)
            if post is not None:
                self._posts.append((position, post))
            if may_float:
                self._checks.append(position)
        self._layers = _layers(fields)
        unpacked = [f.position for layer in self._layers for f in layer.fields]
        # The values come out layer by layer, in offset order; the samples go in point order.
        order = sorted(range(len(unpacked)), key=unpacked.__getitem__)
        if order != list(range(len(order))):
            self._order = _getter(order)
        self._pack = struct.Struct(f">{count}H")
        if any(layer.swapped for layer in self._layers):
            self._pack_swapped = struct.Struct(f"<{count}H")

    def decode(self, data: Sequence[int] | Sequence[bool], now: float) -> dict[str, Sample]:
        """Samples for every point of the block from the read ``data`` (registers or bits).

        Raises :class:`ResponseError` when ``data`` does not fit the request.
        """
        count = self._count
        if self._bit_offsets is not None:
            if not count <= len(data) < count + 8:
                raise ResponseError(f"{self._label}: expected {count} bits, got {len(data)}")
            bits = map(bool, self._bit_offsets(data))
            return dict(zip(self._tags, _good_samples(bits, now), strict=True))
        pack = self._pack
        if pack is None or len(data) != count:
            return self._reference(data, now)
        try:
            raw = pack.pack(*data)
            swapped = self._pack_swapped.pack(*data) if self._pack_swapped is not None else raw
        except struct.error:
            return self._reference(data, now)
        unpacked: tuple[Any, ...] = ()
        for layer in self._layers:
            unpacked += layer.struct.unpack_from(swapped if layer.swapped else raw, layer.offset)
        values: list[Any] = list(unpacked if self._order is None else self._order(unpacked))
        for position, post in self._posts:
            values[position] = post(values[position])
        samples = _good_samples(values, now)
        for position in self._checks:
            value = values[position]
            if isinstance(value, float) and not math.isfinite(value):
                samples[position] = _sensor_failure(value, now)
        return dict(zip(self._tags, samples, strict=True))

    def _reference(self, data: Sequence[int] | Sequence[bool], now: float) -> dict[str, Sample]:
        return decode_reference(
            self._label,
            table=self._table,
            start=self._start,
            count=self._count,
            points=self._points,
            data=data,
            now=now,
        )


def _getter(indices: list[int]) -> Callable[[Any], Any]:
    """``seq -> tuple(seq[i] for i in indices)`` in C (itemgetter, tuple even for one)."""
    if len(indices) == 1:
        index = indices[0]
        return lambda seq: (seq[index],)
    if not indices:
        return lambda seq: ()
    return itemgetter(*indices)
