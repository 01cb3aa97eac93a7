"""Register decoding and encoding: 16-bit registers <-> engineering values, no I/O.

A :class:`Point` is what the codec needs of a tag: where it lives, its type, byte and
word order, scaling and deadband. Registers are the wire values (``0..65535``) in the
order the device sends them. ``byte_order`` is the order of the two bytes inside each
register, ``word_order`` the order of the registers of a multi-register value ("big":
the first register holds the most significant word).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from hmi.core.address import ModbusAddress, Table
from hmi.core.sample import Value
from hmi.core.tag import DataType, Scaling, Tag

_FORMATS = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.INT64: ">q",
    DataType.UINT64: ">Q",
    DataType.FLOAT32: ">f",
    DataType.FLOAT64: ">d",
}
_FLOATS = (DataType.FLOAT32, DataType.FLOAT64)
#: the largest finite value of each float type (what a write may not exceed)
_FLOAT_MAX = {
    DataType.FLOAT32: struct.unpack(">f", b"\x7f\x7f\xff\xff")[0],
    DataType.FLOAT64: struct.unpack(">d", b"\x7f\xef\xff\xff\xff\xff\xff\xff")[0],
}
#: the inclusive range of each integer type
_INT_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


class CodecError(ValueError):
    """A value cannot be decoded from, or encoded into, a point's registers."""


class FunctionCode(IntEnum):
    """The Modbus function codes the driver uses."""

    READ_COILS = 1
    READ_DISCRETE_INPUTS = 2
    READ_HOLDING_REGISTERS = 3
    READ_INPUT_REGISTERS = 4
    WRITE_SINGLE_COIL = 5
    WRITE_SINGLE_REGISTER = 6
    WRITE_MULTIPLE_COILS = 15
    WRITE_MULTIPLE_REGISTERS = 16


READ_FUNCTION = {
    Table.COIL: FunctionCode.READ_COILS,
    Table.DISCRETE_INPUT: FunctionCode.READ_DISCRETE_INPUTS,
    Table.HOLDING_REGISTER: FunctionCode.READ_HOLDING_REGISTERS,
    Table.INPUT_REGISTER: FunctionCode.READ_INPUT_REGISTERS,
}


@dataclass(frozen=True, slots=True)
class Point:
    """One tag as the codec sees it: address, type, orders, scaling, deadband."""

    tag: str
    address: ModbusAddress
    data_type: DataType = DataType.UINT16
    byte_order: str = "big"
    word_order: str = "big"
    #: registers of a string
    length: int = 1
    scaling: Scaling | None = None
    deadband: float = 0.0
    poll_group: str = "normal"

    @classmethod
    def from_tag(cls, tag: Tag) -> Point:
        """The point of a device tag (raises ValueError for a tag without a source)."""
        source = tag.source
        if source is None:
            raise ValueError(f"tag {tag.name!r} has no device source")
        if not isinstance(source.address, ModbusAddress):
            raise ValueError(f"tag {tag.name!r} is not a Modbus tag ({source.address})")
        return cls(
            tag=tag.name,
            address=source.address,
            data_type=tag.data_type,
            byte_order=source.byte_order,
            word_order=source.word_order,
            length=source.length,
            scaling=tag.scaling,
            deadband=source.deadband,
            poll_group=source.poll_group,
        )

    @property
    def table(self) -> Table:
        """The Modbus table the point lives in."""
        return self.address.table

    @property
    def start(self) -> int:
        """First register (or bit) offset."""
        return self.address.offset

    @property
    def size(self) -> int:
        """Registers (or bits) the point occupies."""
        if self.table.is_bits or self.address.bit is not None:
            return 1
        if self.data_type is DataType.STRING:
            return self.length
        if self.data_type is DataType.BOOL:
            return 1
        return self.data_type.register_count

    @property
    def end(self) -> int:
        """One past the last register (or bit)."""
        return self.start + self.size


def _to_bytes(registers: Sequence[int], byte_order: str, word_order: str) -> bytes:
    words = list(registers)
    if word_order == "little":
        words.reverse()
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    if byte_order == "little":
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    return raw


def _to_registers(raw: bytes, byte_order: str, word_order: str) -> list[int]:
    if byte_order == "little":
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if word_order == "little":
        words.reverse()
    return words


def decode_registers(point: Point, registers: Sequence[int]) -> Value:
    """The engineering value of ``point`` from exactly its registers (scaled if set)."""
    if len(registers) != point.size:
        raise CodecError(f"{point.tag}: expected {point.size} registers, got {len(registers)}")
    if point.address.bit is not None:
        return bool((registers[0] >> point.address.bit) & 1)
    data_type = point.data_type
    if data_type is DataType.BOOL:
        return registers[0] != 0
    raw = _to_bytes(registers, point.byte_order, point.word_order)
    if data_type is DataType.STRING:
        # Devices pad strings with NULs or spaces; neither is part of the text.
        return raw.split(b"\x00", 1)[0].decode("latin-1").rstrip(" ")
    number: int | float = struct.unpack(_FORMATS[data_type], raw)[0]
    if point.scaling is not None:
        return point.scaling.to_eng(number)
    return number


def encode_registers(point: Point, value: Value) -> list[int]:
    """The registers that make ``value`` (engineering units) for ``point``.

    Raises :class:`CodecError` when the value does not fit the type (after scaling).
    """
    data_type = point.data_type
    if point.address.bit is not None or point.table.is_bits:
        raise CodecError(f"{point.tag}: a bit is written with encode_bit")
    if data_type is DataType.BOOL:
        return [1 if _as_bool(point, value) else 0]
    if data_type is DataType.STRING:
        if not isinstance(value, str):
            raise CodecError(f"{point.tag}: expected text, got {value!r}")
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            raise CodecError(f"{point.tag}: {value!r} is not Latin-1 text") from None
        if len(raw) > 2 * point.length:
            raise CodecError(f"{point.tag}: {value!r} is longer than {2 * point.length} bytes")
        return _to_registers(raw.ljust(2 * point.length, b"\x00"), point.byte_order, "big")
    number = _as_number(point, value)
    if data_type in _FLOATS:
        raw = _pack_float(point, value, _to_raw(point, value, number))
    else:
        raw = _pack_integer(point, value, number)
    return _to_registers(raw, point.byte_order, point.word_order)


def _to_raw(point: Point, value: Value, number: float) -> float:
    """``number`` in raw device units (scaled if the point is); finite, or CodecError."""
    if point.scaling is None:
        return number
    try:
        raw = point.scaling.to_raw(number)
    except (ArithmeticError, TypeError):
        # eng_min == eng_max (no span to scale by), or a number too big for a float
        raise CodecError(f"{point.tag}: {value!r} cannot be scaled to raw units") from None
    if not math.isfinite(raw):
        raise CodecError(f"{point.tag}: {value!r} is beyond any raw value (scaled: {raw})")
    return raw


def _pack_float(point: Point, value: Value, raw: float) -> bytes:
    """A float32/float64 packed big-endian; beyond the type's range is a CodecError.

    ``struct`` raises OverflowError (not struct.error) for a float32 beyond about
    3.4e38 and for a Python int too big for a double: both are the operator's value, so
    they must come back as a refusal with a reason, never as a traceback.
    """
    name = point.data_type.value
    try:
        return struct.pack(_FORMATS[point.data_type], float(raw))
    except (OverflowError, struct.error):
        limit = _FLOAT_MAX[point.data_type]
        raise CodecError(
            f"{point.tag}: {value!r} does not fit {name} (at most ±{limit:.7g})"
        ) from None


def _pack_integer(point: Point, value: Value, number: float) -> bytes:
    """An integer type packed big-endian, after its range check.

    An unscaled integer tag takes whole numbers only: rounding 12.7 to 13 would write a
    value nobody asked for, so it is refused. A scaled tag is written in raw counts, and
    every engineering value falls between two of them: it goes to the nearest count (the
    resolution of the scaling), and the write's result carries the value read back.
    """
    name = point.data_type.value
    if point.scaling is None:
        if isinstance(number, float) and not number.is_integer():
            raise CodecError(
                f"{point.tag}: {value!r} is not an integer; {name} takes whole numbers"
            )
        integer = int(number)
        raw_note = ""
    else:
        integer = round(_to_raw(point, value, number))
        raw_note = f" (raw {integer})"
    low, high = _INT_RANGES[point.data_type]
    if not low <= integer <= high:
        raise CodecError(f"{point.tag}: {value!r}{raw_note} does not fit {name} ({low}..{high})")
    return struct.pack(_FORMATS[point.data_type], integer)


def encode_bit(point: Point, value: Value) -> bool:
    """The state to write to a coil (or a register bit) for ``value``."""
    return _as_bool(point, value)


def set_register_bit(register: int, bit: int, state: bool) -> int:
    """``register`` with ``bit`` set or cleared (read-modify-write of a register bit)."""
    return register | (1 << bit) if state else register & ~(1 << bit) & 0xFFFF


def _as_bool(point: Point, value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise CodecError(f"{point.tag}: expected true/false, got {value!r}")


def _as_number(point: Point, value: Value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"{point.tag}: expected a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise CodecError(f"{point.tag}: {value!r} cannot be written")
    return value
