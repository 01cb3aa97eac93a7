"""Sparkplug B payloads <-> our values: the only user of Tahu's protobuf module.

A metric's value sits in one field of a ``oneof`` chosen by its Sparkplug datatype
(Int8..UInt16 in ``int_value``, Int64..UInt64 and DateTime in ``long_value``, as Eclipse
Tahu and the reference JavaScript library write them; signed integers in two's
complement). Decoding reads whichever field is set, so a peer that puts a UInt32 in
``int_value`` is understood too. A metric's quality travels as the property ``Quality``
(Int32, the OPC DA codes Ignition uses: 192 good, 64 uncertain, 0 bad).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hmi.core.quality import Quality, Reason, Severity
from hmi.core.sample import Value
from hmi.core.tag import DataType
from hmi.drivers.sparkplug.tahu import sparkplug_b_pb2

#: protoc's module builds its classes at import: nothing for mypy to see in it
pb: Any = sparkplug_b_pb2

#: Sparkplug datatypes (Tahu's DataType enum)
INT8, INT16, INT32, INT64 = 1, 2, 3, 4
UINT8, UINT16, UINT32, UINT64 = 5, 6, 7, 8
FLOAT, DOUBLE, BOOLEAN, STRING, DATETIME, TEXT, UUID = 9, 10, 11, 12, 13, 14, 15

#: our tag types as Sparkplug datatypes
DATATYPE_OF: dict[DataType, int] = {
    DataType.BOOL: BOOLEAN,
    DataType.INT16: INT16,
    DataType.UINT16: UINT16,
    DataType.INT32: INT32,
    DataType.UINT32: UINT32,
    DataType.INT64: INT64,
    DataType.UINT64: UINT64,
    DataType.FLOAT32: FLOAT,
    DataType.FLOAT64: DOUBLE,
    DataType.STRING: STRING,
}
#: Sparkplug datatypes as our tag types (the ones a tag can hold)
TYPE_OF: dict[int, DataType] = {
    **{v: k for k, v in DATATYPE_OF.items()},
    INT8: DataType.INT16,
    UINT8: DataType.UINT16,
    DATETIME: DataType.UINT64,
    TEXT: DataType.STRING,
    UUID: DataType.STRING,
}
_SIGNED_BITS = {INT8: 8, INT16: 16, INT32: 32, INT64: 64}
_INT_FIELD = frozenset({INT8, INT16, INT32, UINT8, UINT16})
_LONG_FIELD = frozenset({INT64, UINT32, UINT64, DATETIME})
_TEXT_FIELD = frozenset({STRING, TEXT, UUID})

#: the property that carries a metric's quality, and its codes (OPC DA, as Ignition)
QUALITY = "Quality"
GOOD_CODE, UNCERTAIN_CODE, BAD_CODE = 192, 64, 0


class PayloadError(ValueError):
    """A payload that is not a Sparkplug B payload, or a metric we cannot read."""


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of a payload, as we write or read it.

    ``name`` is set in births (and may be in data); ``alias`` in births and data.
    ``quality`` is the ``Quality`` property's code, None when absent.
    """

    name: str = ""
    alias: int | None = None
    datatype: int = DOUBLE
    value: Value = None
    #: milliseconds since the epoch (Sparkplug's timestamps); 0: none
    timestamp: int = 0
    quality: int | None = None
    is_historical: bool = False


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded payload: its timestamp (ms), seq (None when absent) and metrics."""

    timestamp: int
    seq: int | None
    metrics: tuple[Metric, ...]


def quality_code(quality: Quality) -> int:
    """The ``Quality`` property's code of ``quality``."""
    if quality.severity is Severity.GOOD:
        return GOOD_CODE
    return UNCERTAIN_CODE if quality.severity is Severity.UNCERTAIN else BAD_CODE


def quality_of(code: int | None) -> Quality:
    """Our quality of a ``Quality`` property's code (absent: GOOD).

    OPC DA codes: the top two bits of the low byte give the class (192.. good, 64..
    uncertain, below 64 bad); Ignition's own codes (500 and up) are taken as bad.
    """
    if code is None or 192 <= code <= 255:
        return Quality.good()
    if 64 <= code < 192:
        return Quality.uncertain(Reason.LAST_KNOWN_VALUE, f"Sparkplug quality {code}")
    return Quality.bad(Reason.DEVICE_FAILURE, f"Sparkplug quality {code}")


def to_ms(seconds: float) -> int:
    """POSIX seconds as Sparkplug's milliseconds."""
    return int(seconds * 1000.0)


def encode(metrics: Iterable[Metric], *, timestamp: int, seq: int | None) -> bytes:
    """A Sparkplug B payload of ``metrics``; ``seq`` None for NDEATH (which has none)."""
    payload = pb.Payload()
    payload.timestamp = timestamp
    if seq is not None:
        payload.seq = seq
    add = payload.metrics.add
    for metric in metrics:
        out = add()
        if metric.name:
            out.name = metric.name
        if metric.alias is not None:
            out.alias = metric.alias
        if metric.timestamp:
            out.timestamp = metric.timestamp
        out.datatype = metric.datatype
        if metric.is_historical:
            out.is_historical = True
        _set_value(out, metric.datatype, metric.value)
        if metric.quality is not None:
            props = out.properties
            props.keys.append(QUALITY)
            prop = props.values.add()
            prop.type = INT32
            prop.int_value = metric.quality
    data: bytes = payload.SerializeToString()
    return data


def _set_value(out: Any, datatype: int, value: Value) -> None:
    if value is None:
        out.is_null = True
        return
    if datatype == BOOLEAN:
        out.boolean_value = bool(value)
    elif datatype in _TEXT_FIELD:
        out.string_value = str(value)
    elif datatype == FLOAT:
        out.float_value = float(value)
    elif datatype == DOUBLE:
        out.double_value = float(value)
    elif datatype in _INT_FIELD:
        out.int_value = _integer(value) & 0xFFFFFFFF
    elif datatype in _LONG_FIELD:
        out.long_value = _integer(value) & 0xFFFFFFFFFFFFFFFF
    else:
        raise PayloadError(f"datatype {datatype} is not one we write")


def _integer(value: Value) -> int:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError(f"{value} is not an integer")
        return round(value)
    return int(value)  # type: ignore[arg-type]


def decode(data: bytes) -> Payload:
    """The payload in ``data``; PayloadError when it is not one."""
    payload = pb.Payload()
    try:
        payload.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError, or worse on hostile bytes
        raise PayloadError(f"not a Sparkplug B payload ({exc})") from None
    metrics = tuple(_metric(m) for m in payload.metrics)
    seq = payload.seq if payload.HasField("seq") else None
    return Payload(payload.timestamp, seq, metrics)


def _metric(m: Any) -> Metric:
    quality = None
    if m.HasField("properties"):
        for key, prop in zip(m.properties.keys, m.properties.values, strict=False):
            if key == QUALITY and prop.WhichOneof("value") in ("int_value", "long_value"):
                quality = _signed(
                    prop.int_value if prop.HasField("int_value") else prop.long_value, INT32
                )
    return Metric(
        name=m.name,
        alias=m.alias if m.HasField("alias") else None,
        datatype=m.datatype,
        value=None if m.is_null else _value(m),
        timestamp=m.timestamp,
        quality=quality,
        is_historical=m.is_historical,
    )


def _value(m: Any) -> Value:
    which = m.WhichOneof("value")
    datatype = m.datatype
    if which is None:
        return None
    if which == "int_value":
        return _signed(m.int_value, datatype)
    if which == "long_value":
        return _signed(m.long_value, datatype)
    if which == "float_value":
        return float(m.float_value)
    if which == "double_value":
        return float(m.double_value)
    if which == "boolean_value":
        return bool(m.boolean_value)
    if which == "string_value":
        return str(m.string_value)
    # bytes, data sets, templates: not values a tag holds
    raise PayloadError(f"metric {m.name or m.alias}: {which} is not supported")


def _signed(raw: int, datatype: int) -> int:
    bits = _SIGNED_BITS.get(datatype)
    if bits is None:
        return int(raw)
    raw &= (1 << bits) - 1
    return raw - (1 << bits) if raw >= 1 << (bits - 1) else raw
