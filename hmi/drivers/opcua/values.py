"""A tag's values on an OPC UA server: what arrives, turned into the tag's type, and
what is written, checked against it.

A server's variable has its own data type; the tag says what the plant expects. An
arriving value that the tag's type cannot hold (text for a number, an array, a structure)
is BAD ``configuration error`` with what arrived, never a wrong number. A write is
checked exactly as a Modbus one (range, fractions, scaling to raw counts): the same
codec decides, so an operator reads the same refusals whatever the protocol.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from hmi.core.address import ModbusAddress, Table
from hmi.core.modbus import CodecError, Point, decode_registers, encode_registers
from hmi.core.sample import Value
from hmi.core.tag import DataType, Tag
from hmi.drivers.write_checks import Rejected

#: our data types -> the OPC UA built-in type a write is sent as (asyncua VariantType names)
VARIANT_TYPES: dict[DataType, str] = {
    DataType.BOOL: "Boolean",
    DataType.INT16: "Int16",
    DataType.UINT16: "UInt16",
    DataType.INT32: "Int32",
    DataType.UINT32: "UInt32",
    DataType.INT64: "Int64",
    DataType.UINT64: "UInt64",
    DataType.FLOAT32: "Float",
    DataType.FLOAT64: "Double",
    DataType.STRING: "String",
}

#: an arriving value -> the tag's value; raises TypeError with what is wrong
Converter = Callable[[object], Value]


class Mismatch(TypeError):
    """An arriving value the tag's type cannot hold."""


def converter(tag: Tag) -> Converter:
    """The conversion of the server's values for ``tag`` (scaled if it is)."""
    data_type, scaling = tag.data_type, tag.scaling
    if data_type is DataType.STRING:
        return _text
    if data_type is DataType.BOOL:
        return _flag
    integer = data_type not in (DataType.FLOAT32, DataType.FLOAT64)

    def number(raw: object) -> Value:
        if isinstance(raw, bool):
            raw = int(raw)
        if not isinstance(raw, int | float):
            raise Mismatch(f"expected a number, the server sends {_kind(raw)}")
        if scaling is not None:
            return scaling.to_eng(raw)
        if integer and isinstance(raw, float):
            return int(raw) if raw.is_integer() else raw
        return raw

    return number


def _text(raw: object) -> Value:
    if isinstance(raw, str):
        return raw
    if raw is None:
        return ""
    raise Mismatch(f"expected text, the server sends {_kind(raw)}")


def _flag(raw: object) -> Value:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and math.isfinite(raw):
        return raw != 0
    raise Mismatch(f"expected true/false, the server sends {_kind(raw)}")


def _kind(raw: object) -> str:
    if isinstance(raw, list | tuple):
        return f"an array of {len(raw)}"
    return f"{type(raw).__name__} {raw!r}"[:80]


def encode_value(tag: Tag, value: Value) -> Value:
    """The raw value to write for ``value`` (engineering units); :class:`Rejected` with
    the reason when the tag's type cannot hold it (the Modbus codec's checks and words)."""
    data_type = tag.data_type
    if data_type is DataType.STRING:
        if not isinstance(value, str):
            raise Rejected(f"{tag.name}: expected text, got {value!r}")
        return value
    # A point of the same type on a notional register: encode checks range, fractions and
    # scaling exactly as for a device register, and decoding the raw registers without
    # the scaling gives the raw value (float32 rounded as the server will store it).
    point = Point(
        tag=tag.name,
        address=ModbusAddress(Table.HOLDING_REGISTER, 0),
        data_type=data_type,
        length=max(1, data_type.register_count),
        scaling=tag.scaling,
    )
    try:
        registers = encode_registers(point, value)
    except CodecError as exc:
        raise Rejected(str(exc)) from None
    raw = decode_registers(dataclasses.replace(point, scaling=None), registers)
    if data_type is DataType.BOOL:
        return bool(raw)
    return raw
