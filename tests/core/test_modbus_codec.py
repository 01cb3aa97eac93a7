"""Register decoding and encoding against byte vectors (no sockets)."""

from __future__ import annotations

import struct

import pytest

from hmi.core.address import ModbusAddress
from hmi.core.modbus import CodecError, Point, decode_registers, encode_registers
from hmi.core.modbus.codec import encode_bit, set_register_bit
from hmi.core.tag import DataType, Scaling


def regs(raw: bytes) -> list[int]:
    """Registers as they arrive on the wire, from the bytes on the wire."""
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def point(data_type: DataType, address: str = "hr:0", **kw: object) -> Point:
    return Point("a/b/c", ModbusAddress.parse(address), data_type, **kw)  # type: ignore[arg-type]


# float32 123.456 is 0x42F6E979: ABCD big/big, CDAB word swap, BADC byte swap, DCBA both.
F32 = [
    ("big", "big", bytes.fromhex("42F6E979")),
    ("big", "little", bytes.fromhex("E97942F6")),
    ("little", "big", bytes.fromhex("F64279E9")),
    ("little", "little", bytes.fromhex("79E9F642")),
]


@pytest.mark.parametrize(("byte_order", "word_order", "wire"), F32)
def test_float32_in_all_four_orders(byte_order: str, word_order: str, wire: bytes) -> None:
    p = point(DataType.FLOAT32, byte_order=byte_order, word_order=word_order)
    assert decode_registers(p, regs(wire)) == pytest.approx(123.456, rel=1e-6)
    assert encode_registers(p, 123.456) == regs(wire)


@pytest.mark.parametrize(
    ("data_type", "wire", "value"),
    [
        (DataType.INT16, "FFFE", -2),
        (DataType.UINT16, "FFFE", 65534),
        (DataType.INT32, "FFFFFFFE", -2),
        (DataType.UINT32, "00010002", 65538),
        (DataType.INT64, "FFFFFFFFFFFFFFFF", -1),
        (DataType.UINT64, "0000000100000000", 1 << 32),
        (DataType.FLOAT64, struct.pack(">d", -1.5).hex(), -1.5),
        (DataType.BOOL, "0001", True),
        (DataType.BOOL, "0000", False),
    ],
)
def test_types_round_trip(data_type: DataType, wire: str, value: object) -> None:
    p = point(data_type)
    assert decode_registers(p, regs(bytes.fromhex(wire))) == value
    assert encode_registers(p, value) == regs(bytes.fromhex(wire))  # type: ignore[arg-type]


def test_int32_little_word_order_is_low_word_first() -> None:
    p = point(DataType.INT32, word_order="little")
    assert decode_registers(p, [0x0002, 0x0001]) == 0x00010002


def test_string_strips_padding_and_honours_byte_order() -> None:
    p = point(DataType.STRING, length=3)
    assert decode_registers(p, regs(b"PUMP\x00\x00")) == "PUMP"
    swapped = point(DataType.STRING, length=2, byte_order="little")
    assert decode_registers(swapped, regs(b"UPPM")) == "PUMP"
    assert encode_registers(p, "AB") == regs(b"AB\x00\x00\x00\x00")
    with pytest.raises(CodecError, match="longer"):
        encode_registers(p, "TOO LONG")


def test_register_bit() -> None:
    p = point(DataType.BOOL, "hr:5.3")
    assert decode_registers(p, [0b1000]) is True
    assert decode_registers(p, [0b0111]) is False
    assert set_register_bit(0b0111, 3, True) == 0b1111
    assert set_register_bit(0xFFFF, 15, False) == 0x7FFF
    assert encode_bit(p, 1) is True


def test_scaling_applies_both_ways() -> None:
    p = point(DataType.UINT16, scaling=Scaling(0, 10000, 0, 100))
    assert decode_registers(p, [2500]) == 25.0
    assert encode_registers(p, 25.0) == [2500]
    assert encode_registers(p, 33.333) == [3333]  # rounded to the raw integer


def test_values_that_do_not_fit_are_refused() -> None:
    with pytest.raises(CodecError, match="does not fit"):
        encode_registers(point(DataType.UINT16), 70000)
    with pytest.raises(CodecError, match="does not fit"):
        encode_registers(point(DataType.INT16), -40000)
    with pytest.raises(CodecError, match="number"):
        encode_registers(point(DataType.FLOAT32), "12")
    with pytest.raises(CodecError, match="number"):
        encode_registers(point(DataType.FLOAT32), True)
    with pytest.raises(CodecError):
        encode_registers(point(DataType.FLOAT32), float("nan"))
    with pytest.raises(CodecError, match="true/false"):
        encode_bit(point(DataType.BOOL, "co:1"), 2)


def test_wrong_register_count_is_an_error() -> None:
    with pytest.raises(CodecError, match="expected 2 registers"):
        decode_registers(point(DataType.FLOAT32), [1])


# -- writes beyond the type: a refusal with a reason, never an exception of another kind -----
@pytest.mark.parametrize("value", [1e39, -1e39, 3.5e38, 10**400, -(10**39)])
def test_a_float32_beyond_its_range_is_refused_with_a_reason(value: float) -> None:
    """Issue 15: struct.pack raised OverflowError here, and the write got no result."""
    with pytest.raises(CodecError, match=r"does not fit float32 \(at most ±3\.402823e\+38\)"):
        encode_registers(point(DataType.FLOAT32), value)


def test_a_float32_at_its_limit_is_written() -> None:
    top = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]
    assert encode_registers(point(DataType.FLOAT32), top) == [0x7F7F, 0xFFFF]
    assert encode_registers(point(DataType.FLOAT32), -top) == [0xFF7F, 0xFFFF]


def test_a_float64_from_an_int_too_big_for_a_double_is_refused() -> None:
    with pytest.raises(CodecError, match="does not fit float64"):
        encode_registers(point(DataType.FLOAT64), 10**400)


@pytest.mark.parametrize(
    ("data_type", "value"),
    [
        (DataType.UINT16, 12.7),
        (DataType.INT16, -0.5),
        (DataType.INT32, 1.000001),
        (DataType.UINT64, 2.5),
    ],
)
def test_a_fraction_to_an_unscaled_integer_tag_is_refused_not_rounded(
    data_type: DataType, value: float
) -> None:
    """Issue 15: 12.7 written to a uint16 tag became 13 and was confirmed."""
    message = f"{value!r} is not an integer; {data_type.value} takes whole numbers"
    with pytest.raises(CodecError, match=message.replace(".", r"\.")):
        encode_registers(point(data_type), value)


def test_a_whole_float_to_an_integer_tag_is_written() -> None:
    assert encode_registers(point(DataType.UINT16), 13.0) == [13]
    assert encode_registers(point(DataType.INT16), -2.0) == [0xFFFE]


def test_range_messages_name_the_range_and_the_raw_value() -> None:
    with pytest.raises(CodecError, match=r"70000 does not fit uint16 \(0\.\.65535\)"):
        encode_registers(point(DataType.UINT16), 70000)
    scaled = point(DataType.UINT16, scaling=Scaling(0, 10000, 0, 100))
    with pytest.raises(CodecError, match=r"700 \(raw 70000\) does not fit uint16"):
        encode_registers(scaled, 700)
    with pytest.raises(CodecError, match="does not fit int16"):
        encode_registers(point(DataType.INT16), 1e300)


def test_scaling_that_cannot_be_inverted_or_overflows_is_refused() -> None:
    flat = point(DataType.UINT16, scaling=Scaling(0, 100, 5, 5))  # eng_min == eng_max
    with pytest.raises(CodecError, match="cannot be scaled"):
        encode_registers(flat, 5.0)
    steep = point(DataType.FLOAT64, scaling=Scaling(0, 1e300, 0, 1e-300))
    with pytest.raises(CodecError, match="beyond any raw value"):
        encode_registers(steep, 1e10)
    with pytest.raises(CodecError, match="cannot be scaled"):
        encode_registers(point(DataType.FLOAT32, scaling=Scaling(0, 10, 0, 1)), 10**400)
