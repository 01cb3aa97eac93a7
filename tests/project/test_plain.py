"""Dataclasses as plain data and back (the form of a kept project): what comes back is equal,
and what cannot come back equal is refused, never rebuilt as something else."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgspec
import pytest

from hmi.core.address import ModbusAddress, ProtocolAddress, Table
from hmi.core.tag import AlarmLimits, DataType, Limits, Source, Tag
from hmi.project import plain


@dataclass(frozen=True)
class Box:
    where: Path
    names: frozenset[str]
    sizes: tuple[int, ...]
    parts: MappingProxyType[str, Limits]
    state: bool | int | float | str | None = None
    extra: object = None
    inner: Limits | None = field(default=None)


def round_trip(value: object) -> Any:
    return plain.decode(plain.encode(value), type(value))


def test_a_tag_comes_back_equal():
    tag = Tag(
        name="area1/t101/level",
        data_type=DataType.FLOAT32,
        unit="m",
        limits=Limits(0.0, 5.0),
        alarms=AlarmLimits(hi=4.5, state=None, message="high"),
        write_roles=frozenset({"operator", "engineer"}),
        source=Source("plc1", ModbusAddress(Table.HOLDING_REGISTER, 10, 3), "fast"),
    )
    assert round_trip(tag) == tag


def test_paths_sets_tuples_mappings_and_plain_unions_come_back_equal():
    box = Box(
        where=Path("/srv/plant/screens/a.ui"),
        names=frozenset({"a", "b"}),
        sizes=(1, 2, 3),
        parts=MappingProxyType({"x": Limits(1.0, 2.0), "y": Limits()}),
        state=1.5,
        extra="text",
        inner=Limits(None, 3.0),
    )
    again = round_trip(box)
    assert again == box
    assert isinstance(again.parts, MappingProxyType)
    assert type(again.state) is float


def test_an_object_field_holding_more_than_a_plain_value_is_refused():
    box = Box(Path("/"), frozenset(), (), MappingProxyType({}), extra=Limits(1.0, 2.0))
    with pytest.raises(plain.Unrepresentable):
        round_trip(box)


def test_a_union_of_dataclasses_is_told_apart_by_their_fields():
    modbus = Source("plc1", ModbusAddress(Table.COIL, 7))
    assert round_trip(modbus) == modbus
    other = Source("ua", ProtocolAddress("opcua", "ns=2;s=Line1", None, False))
    assert round_trip(other) == other


def test_infinity_and_nan_come_back():
    alarms = AlarmLimits(hi=float("inf"), state=float("-inf"))
    assert round_trip(alarms) == alarms
    assert math.isnan(round_trip(AlarmLimits(state=float("nan"))).state)


def test_data_that_does_not_fit_its_type_is_refused():
    with pytest.raises(plain.Unrepresentable):
        plain.decode(msgspec.msgpack.encode({"low": 1.0, "higher": 2.0}), Limits)
    with pytest.raises(plain.Unrepresentable):  # Limits itself refuses it
        plain.decode(msgspec.msgpack.encode({"low": 3.0, "high": 1.0}), Limits)
