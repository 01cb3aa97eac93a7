"""Poll planning, block decoding, isolation of refused addresses, and deadbands."""

from __future__ import annotations

import math

import pytest

from hmi.core.address import ModbusAddress, Table
from hmi.core.modbus import (
    Block,
    ChangeFilter,
    Point,
    ResponseError,
    decode_block,
    failed_samples,
    plan_blocks,
    split_block,
)
from hmi.core.quality import Quality, Reason, Severity
from hmi.core.sample import Sample
from hmi.core.tag import DataType


def p(name: str, address: str, data_type: DataType = DataType.UINT16, **kw: object) -> Point:
    return Point(f"a/{name}/v", ModbusAddress.parse(address), data_type, **kw)  # type: ignore[arg-type]


def test_contiguous_and_small_gaps_merge_into_one_block() -> None:
    points = [p("x", "hr:0"), p("y", "hr:1", DataType.FLOAT32), p("z", "hr:10")]
    [block] = plan_blocks(points)
    assert (block.table, block.start, block.count) == (Table.HOLDING_REGISTER, 0, 11)


def test_large_gap_and_other_table_start_new_blocks() -> None:
    points = [p("x", "hr:0"), p("y", "hr:100"), p("z", "ir:0"), p("c", "co:3")]
    blocks = plan_blocks(points, register_gap=16)
    assert [str(b) for b in blocks] == ["co:3+1", "hr:0+1", "hr:100+1", "ir:0+1"]


def test_blocks_never_exceed_125_registers_or_2000_bits() -> None:
    registers = [p(f"r{i}", f"hr:{i}") for i in range(1000)]
    blocks = plan_blocks(registers)
    assert max(b.count for b in blocks) == 125
    assert len(blocks) == 8  # ceil(1000 / 125): the fewest requests
    assert sum(len(b.points) for b in blocks) == 1000
    coils = [p(f"c{i}", f"co:{i}", DataType.BOOL) for i in range(4500)]
    assert [b.count for b in plan_blocks(coils)] == [2000, 2000, 500]


def test_a_float_never_straddles_two_blocks() -> None:
    points = [p(f"f{i}", f"hr:{2 * i}", DataType.FLOAT32) for i in range(100)]
    for block in plan_blocks(points):
        assert all(block.start <= q.start and q.end <= block.end for q in block.points)
        assert block.count <= 125


def test_decode_block_from_a_response() -> None:
    points = [
        p("lvl", "hr:0", DataType.FLOAT32),
        p("n", "hr:3", DataType.INT16),
        p("bit", "hr:2.1", DataType.BOOL),
    ]
    [block] = plan_blocks(points)
    samples = decode_block(block, [0x42F6, 0xE979, 0b10, 0xFFFF], now=5.0)
    assert samples["a/lvl/v"].value == pytest.approx(123.456, rel=1e-6)
    assert samples["a/n/v"] == Sample(-1, Quality.good(), 5.0, 5.0)
    assert samples["a/bit/v"].value is True


def test_decode_bits_accepts_byte_padding_only() -> None:
    [block] = plan_blocks([p("c0", "co:0", DataType.BOOL), p("c9", "co:9", DataType.BOOL)])
    bits = [True] + [False] * 8 + [True] + [False] * 6  # 10 bits, padded to 16
    samples = decode_block(block, bits, now=1.0)
    assert samples["a/c0/v"].value is True
    assert samples["a/c9/v"].value is True
    with pytest.raises(ResponseError):
        decode_block(block, [True] * 8, now=1.0)


def test_wrong_register_count_is_a_response_error() -> None:
    [block] = plan_blocks([p("x", "hr:0"), p("y", "hr:4")])
    with pytest.raises(ResponseError, match="expected 5 registers, got 4"):
        decode_block(block, [1, 2, 3, 4], now=0.0)


def test_nan_from_a_device_is_bad_but_kept() -> None:
    [block] = plan_blocks([p("f", "hr:0", DataType.FLOAT32), p("g", "hr:2")])
    samples = decode_block(block, [0x7FC0, 0x0000, 7], now=0.0)
    assert samples["a/f/v"].quality.severity is Severity.BAD
    assert math.isnan(samples["a/f/v"].value)  # type: ignore[arg-type]
    assert samples["a/g/v"].quality.is_good


def isolate(block: Block, refused: set[int]) -> tuple[list[Block], list[Block]]:
    """What the driver does: split refused blocks until the culprits stand alone."""
    good, bad, todo = [], [], [block]
    while todo:
        current = todo.pop()
        if not any(current.start <= r < current.end for r in refused):
            good.append(current)
            continue
        halves = split_block(current)
        if halves is None:
            bad.append(current)
        else:
            todo.extend(halves)
    return good, bad


def test_split_isolates_the_refused_register_and_keeps_the_rest() -> None:
    points = [p(f"r{i}", f"hr:{i}") for i in range(64)]
    [block] = plan_blocks(points)
    good, bad = isolate(block, refused={37})
    assert [b.tags for b in bad] == [["a/r37/v"]]
    assert sum(len(b.points) for b in good) == 63
    assert len(good) + len(bad) <= 2 * 6 + 1  # O(log n) blocks, not one per register


def test_points_sharing_a_register_stay_together() -> None:
    bits = [p(f"b{i}", f"hr:7.{i}", DataType.BOOL) for i in range(4)]
    [block] = plan_blocks(bits)
    assert split_block(block) is None
    [block] = plan_blocks([*bits, p("x", "hr:8")])
    halves = split_block(block)
    assert halves is not None
    assert [len(h.points) for h in halves] == [4, 1]


def test_failed_samples_keep_the_last_value() -> None:
    previous = {"a/x/v": Sample(3.5, Quality.good(), 1.0, 1.0)}
    lost = Quality.uncertain(Reason.LAST_KNOWN_VALUE, "timeout")
    out = failed_samples(["a/x/v", "a/y/v"], lost, previous, now=2.0)
    assert out["a/x/v"] == Sample(3.5, lost, 1.0, 2.0)
    assert out["a/y/v"].value is None


def test_change_filter_applies_deadband_and_quality_changes() -> None:
    f = ChangeFilter()
    f.set_deadband("t", 0.5)
    good = Quality.good()
    assert f.changed({"t": Sample(1.0, good, 0, 0)}) != {}
    assert f.changed({"t": Sample(1.4, good, 1, 1)}) == {}
    assert f.changed({"t": Sample(1.6, good, 2, 2)}) != {}
    bad = Quality.bad(Reason.NO_COMMUNICATION)
    assert f.changed({"t": Sample(1.6, bad, 3, 3)}) != {}
    assert f.changed({"u": Sample(float("nan"), good, 0, 0)}) != {}
    assert f.changed({"u": Sample(float("nan"), good, 1, 1)}) == {}
    f.forget(["t"])
    assert "t" not in f.last
