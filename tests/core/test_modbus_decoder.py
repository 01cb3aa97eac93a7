"""Compiled block decoders equal the point-by-point reference, for any block and response.

The byte vectors of test_modbus_codec.py and test_modbus_plan.py define what registers
mean; here hypothesis draws tag sets (every type, byte and word order, register bits,
strings, scaling, overlaps, gaps) and responses (with NaN and infinity patterns, values
out of range), plans them, splits the blocks as the driver does for refused addresses,
and checks that every block's compiled decoder returns what the reference returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hmi.core.address import ModbusAddress, Table
from hmi.core.modbus import (
    Block,
    ChangeFilter,
    Point,
    decode_block,
    decode_block_reference,
    differs,
    plan_blocks,
    split_block,
)
from hmi.core.quality import GOOD, Quality, Reason, Severity
from hmi.core.sample import Sample, Value
from hmi.core.tag import DataType, Scaling

REGISTER_TABLES = [Table.HOLDING_REGISTER, Table.INPUT_REGISTER]
BIT_TABLES = [Table.COIL, Table.DISCRETE_INPUT]
ORDERS = st.sampled_from(["big", "little"])
#: register values that make NaN, infinity, signs and padding likely
SPECIAL = [0x0000, 0x0020, 0x4142, 0x7F80, 0x7FC0, 0x7FF8, 0x7FF0, 0x8000, 0xFF80, 0xFFFF]
REGISTER = st.integers(0, 0xFFFF) | st.sampled_from(SPECIAL)


@st.composite
def scalings(draw: st.DrawFn) -> Scaling | None:
    if draw(st.booleans()):
        return None
    raw_min = draw(st.integers(-1000, 1000) | st.floats(-1e6, 1e6))
    raw_max = draw(st.integers(-1000, 1000) | st.floats(-1e6, 1e6))
    if raw_min == raw_max:
        raw_max = raw_min + 1
    eng = st.integers(-1000, 1000) | st.floats(-1e308, 1e308)
    return Scaling(raw_min, raw_max, draw(eng), draw(eng))


@st.composite
def register_points(draw: st.DrawFn, max_offset: int = 200) -> list[Point]:
    tables = st.sampled_from(REGISTER_TABLES)
    points = []
    for i in range(draw(st.integers(0, 24))):
        data_type = draw(st.sampled_from(list(DataType)))
        bit = draw(st.none() | st.integers(0, 15)) if draw(st.integers(0, 4)) == 0 else None
        points.append(
            Point(
                f"a/t{i}/v",
                ModbusAddress(draw(tables), draw(st.integers(0, max_offset)), bit),
                data_type,
                byte_order=draw(ORDERS),
                word_order=draw(ORDERS),
                length=draw(st.integers(0, 5)),
                scaling=draw(scalings()),
            )
        )
    return points


@st.composite
def bit_points(draw: st.DrawFn) -> list[Point]:
    tables = st.sampled_from(BIT_TABLES)
    offsets = st.integers(0, 2100)
    return [
        Point(f"a/b{i}/v", ModbusAddress(draw(tables), draw(offsets)), DataType.BOOL)
        for i in range(draw(st.integers(0, 60)))
    ]


def same_value(a: Value, b: Value) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def assert_same(fast: dict[str, Sample], reference: dict[str, Sample]) -> None:
    """Same tags in the same order, same values (of the same type), qualities and times."""
    assert list(fast) == list(reference)
    for name, sample in reference.items():
        got = fast[name]
        assert type(got) is Sample
        assert same_value(got.value, sample.value), (name, got, sample)
        assert (got.quality, got.source_time, got.receive_time) == (
            sample.quality,
            sample.source_time,
            sample.receive_time,
        )


def every_split(block: Block) -> list[Block]:
    """The block and every half the driver could come to by splitting refused reads."""
    out, todo = [], [block]
    while todo:
        current = todo.pop()
        out.append(current)
        halves = split_block(current)
        if halves is not None:
            todo.extend(halves)
    return out


def outcome(block: Block, data: Sequence[int] | Sequence[bool], reference: bool) -> object:
    decode = decode_block_reference if reference else decode_block
    try:
        return decode(block, data, 12.5)
    except Exception as exc:  # the same exception, with the same message, is the same outcome
        return (type(exc), str(exc))


def check(block: Block, data: Sequence[int] | Sequence[bool]) -> None:
    fast, reference = outcome(block, data, False), outcome(block, data, True)
    if isinstance(reference, dict):
        assert isinstance(fast, dict), fast
        assert_same(fast, reference)
    else:
        assert fast == reference


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(register_points(), st.integers(0, 20), st.data())
def test_register_blocks_and_their_splits_decode_as_the_reference(
    points: list[Point], gap: int, data: st.DataObject
) -> None:
    for planned in plan_blocks(points, register_gap=gap):
        for block in every_split(planned):
            registers = data.draw(st.lists(REGISTER, min_size=block.count, max_size=block.count))
            check(block, registers)


@SETTINGS
@given(bit_points(), st.data())
def test_bit_blocks_and_their_splits_decode_as_the_reference(
    points: list[Point], data: st.DataObject
) -> None:
    for planned in plan_blocks(points):
        for block in every_split(planned):
            size = block.count + data.draw(st.integers(0, 7))
            raw = data.draw(st.binary(min_size=(size + 7) // 8, max_size=(size + 7) // 8))
            check(block, [bool(raw[i // 8] >> (i % 8) & 1) for i in range(size)])


@SETTINGS
@given(register_points(max_offset=40), st.data())
def test_odd_responses_get_the_reference_answer(points: list[Point], data: st.DataObject) -> None:
    """Wrong lengths, registers out of range, floats or bools where ints belong."""
    for block in plan_blocks(points):
        odd = st.integers(-2, 0x1FFFF) | st.floats(-1, 70000) | st.booleans()
        size = data.draw(
            st.sampled_from([block.count, block.count, block.count - 1, block.count + 1])
        )
        check(
            block, data.draw(st.lists(REGISTER | odd, min_size=max(size, 0), max_size=max(size, 0)))
        )


def test_a_hand_made_block_with_points_outside_it_decodes_as_the_reference() -> None:
    point = Point("a/x/v", ModbusAddress.parse("hr:5"), DataType.FLOAT32)
    block = Block(Table.HOLDING_REGISTER, 0, 6, (point,))
    samples = decode_block(block, [0] * 6, 1.0)
    assert samples["a/x/v"].quality == Quality.bad(
        Reason.CONFIG_ERROR, "a/x/v: expected 2 registers, got 1"
    )
    check(block, [0] * 6)


def test_all_byte_and_word_orders_in_one_block() -> None:
    """float32 123.456 (0x42F6E979) in its four orders side by side, with a word-swapped
    int32, a byte-swapped int16, a string, bits of a register and a scaled value."""
    orders = [("big", "big"), ("big", "little"), ("little", "big"), ("little", "little")]
    points = [
        Point(f"a/f{i}/v", ModbusAddress.parse(f"hr:{2 * i}"), DataType.FLOAT32, b, w)
        for i, (b, w) in enumerate(orders)
    ]
    points += [
        Point("a/i32/v", ModbusAddress.parse("hr:8"), DataType.INT32, word_order="little"),
        Point("a/i16/v", ModbusAddress.parse("hr:10"), DataType.INT16, byte_order="little"),
        Point("a/s/v", ModbusAddress.parse("hr:11"), DataType.STRING, length=2),
        Point("a/bit/v", ModbusAddress.parse("hr:10.0")),
        Point("a/pct/v", ModbusAddress.parse("hr:13"), scaling=Scaling(0, 10000, 0, 100)),
    ]
    [block] = plan_blocks(points)
    wire = [0x42F6, 0xE979, 0xE979, 0x42F6, 0xF642, 0x79E9, 0x79E9, 0xF642]
    wire += [0xFFFE, 0xFFFF, 0xFEFF, 0x4F4B, 0x0000, 2500]
    samples = decode_block(block, wire, 3.0)
    for i in range(4):
        assert samples[f"a/f{i}/v"].value == pytest.approx(123.456, rel=1e-6)
    assert samples["a/i32/v"].value == -2
    assert samples["a/i16/v"].value == -2
    assert samples["a/s/v"].value == "OK"
    assert samples["a/bit/v"].value is True
    assert samples["a/pct/v"] == Sample(25.0, GOOD, 3.0, 3.0)
    check(block, wire)


def test_a_block_of_125_uint16_decodes_in_one_go() -> None:
    points = [Point(f"a/r{i}/v", ModbusAddress.parse(f"ir:{i}")) for i in range(125)]
    [block] = plan_blocks(points)
    registers = list(range(1000, 1125))
    samples = decode_block(block, registers, 2.0)
    assert [s.value for s in samples.values()] == registers
    assert all(s.quality is GOOD for s in samples.values())
    check(block, registers)


# The change filter: its loop shortcuts must publish exactly what the rule publishes.


def reference_changed(
    last: dict[str, Sample], deadbands: dict[str, float], samples: dict[str, Sample]
) -> dict[str, Sample]:
    out = {}
    for name, sample in samples.items():
        previous = last.get(name)
        if (
            previous is None
            or previous.quality != sample.quality
            or differs(previous.value, sample.value, deadbands.get(name, 0.0))
        ):
            out[name] = sample
            last[name] = sample
    return out


VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-3, 3)
    | st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1.0])
    | st.sampled_from(["", "a", "b"])
)
QUALITIES = st.sampled_from(
    [
        GOOD,
        Quality(),
        Quality.uncertain(Reason.LAST_KNOWN_VALUE, "timeout"),
        Quality.bad(Reason.SENSOR_FAILURE, "device sent nan"),
        Quality(Severity.BAD, Reason.SENSOR_FAILURE, "device sent nan"),
    ]
)
NAMES = st.sampled_from(["x", "y", "z"])


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(NAMES, st.sampled_from([0.0, 0.5, 1.0, 2.5])),
    st.lists(st.dictionaries(NAMES, st.tuples(VALUES, QUALITIES)), max_size=12),
)
def test_change_filter_publishes_what_the_rule_publishes(
    deadbands: dict[str, float], scans: list[dict[str, tuple[Value, Quality]]]
) -> None:
    f = ChangeFilter()
    for name, deadband in deadbands.items():
        f.set_deadband(name, deadband)
    last: dict[str, Sample] = {}
    expected_deadbands = {n: d for n, d in deadbands.items() if d > 0}
    for t, scan in enumerate(scans):
        samples = {name: Sample(v, q, float(t), float(t)) for name, (v, q) in scan.items()}
        got = f.changed(samples)
        want = reference_changed(last, expected_deadbands, samples)
        assert list(got) == list(want)
        assert all(got[n] is want[n] for n in want)
