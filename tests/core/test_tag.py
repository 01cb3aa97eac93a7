from __future__ import annotations

import pytest

from hmi.core.address import AddressError, ModbusAddress, Table
from hmi.core.tag import AlarmLimits, DataType, Limits, Scaling, Tag


@pytest.mark.parametrize(
    ("text", "table", "offset", "bit"),
    [
        ("hr:100", Table.HOLDING_REGISTER, 100, None),
        ("ir:0", Table.INPUT_REGISTER, 0, None),
        ("co:7", Table.COIL, 7, None),
        ("di:65535", Table.DISCRETE_INPUT, 65535, None),
        ("hr:100.3", Table.HOLDING_REGISTER, 100, 3),
        (" ir:5.15 ", Table.INPUT_REGISTER, 5, 15),
    ],
)
def test_address_parses(text, table, offset, bit):
    address = ModbusAddress.parse(text)
    assert (address.table, address.offset, address.bit) == (table, offset, bit)
    assert str(address) == text.strip()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("100", "expected TABLE:OFFSET"),
        ("hr100", "expected TABLE:OFFSET"),
        ("xx:1", "unknown table 'xx'"),
        ("hr:-1", "expected TABLE:OFFSET"),
        ("hr:65536", "above 65535"),
        ("co:1.2", "only applies to registers"),
        ("hr:1.16", "0..15"),
        ("HR:1", "expected TABLE:OFFSET"),
    ],
)
def test_malformed_address_says_what_was_expected(text, why):
    with pytest.raises(AddressError, match=why):
        ModbusAddress.parse(text)


def test_scaling_is_linear_both_ways():
    scaling = Scaling(raw_min=0, raw_max=27648, eng_min=0, eng_max=100)
    assert scaling.to_eng(13824) == pytest.approx(50)
    assert scaling.to_raw(25) == pytest.approx(6912)
    with pytest.raises(ValueError):
        Scaling(1, 1, 0, 1)


def test_limits_and_alarm_limits_are_checked():
    assert Limits(0, 10).contains(10) and not Limits(0, 10).contains(10.1)
    assert Limits(None, 5).contains(-1e9)
    with pytest.raises(ValueError, match="above"):
        Limits(5, 1)
    with pytest.raises(ValueError, match="lolo <= lo"):
        AlarmLimits(lo=5, hi=1)
    with pytest.raises(ValueError, match="priority"):
        AlarmLimits(hi=1, priority=5)


def test_tag_names_and_write_rights():
    tag = Tag("area1/p101/start", DataType.BOOL, write_roles=frozenset({"operator"}))
    assert tag.writable
    assert tag.may_write({"viewer", "operator"})
    assert not tag.may_write({"viewer"})
    assert not Tag("area1/p101/running", DataType.BOOL).writable
    for bad in ("level", "area1//x", "area 1/x", "/a/b"):
        with pytest.raises(ValueError, match="area/device/point"):
            Tag(bad)


def test_register_counts():
    assert DataType.FLOAT32.register_count == 2
    assert DataType.FLOAT64.register_count == 4
    assert DataType.INT16.register_count == 1
    assert DataType.FLOAT32.is_numeric and not DataType.BOOL.is_numeric
