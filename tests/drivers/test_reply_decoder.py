"""The link's reply decoder reads every frame as pymodbus' own does (hmi.drivers.replies).

Read answers of the exact shape (FC 1 to 4) take a shortcut of ours (no debug string,
registers in one ``unpack``); these tests hold it to pymodbus' result for any frame, well
formed or not, so the shortcut can never make a reply pymodbus would refuse, or read one
differently.
"""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st
from pymodbus.pdu import DecodePDU, ModbusPDU

from hmi.drivers.replies import FRAME, Undecodable, _StrictDecoder

READS = (1, 2, 3, 4)


def pymodbus_reads(frame: bytes) -> ModbusPDU | None:
    """pymodbus' own client-side decoding of ``frame`` (function code and data)."""
    logger = logging.getLogger("pymodbus")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # it warns about the frames it refuses
    try:
        return DecodePDU(False).decode(frame)
    finally:
        logger.setLevel(level)


def same_reading(ours: ModbusPDU | None, theirs: ModbusPDU | None, frame: bytes) -> None:
    if theirs is None:
        assert isinstance(ours, Undecodable)  # refused by both, with a reason of ours
        return
    assert ours is not None and not isinstance(ours, Undecodable)
    assert type(ours) is type(theirs)
    assert ours.registers == theirs.registers
    assert ours.bits == theirs.bits
    assert ours.function_code == theirs.function_code
    assert ours.count == theirs.count
    assert getattr(ours, FRAME) == frame


def register_reply(code: int, registers: list[int]) -> bytes:
    data = b"".join(r.to_bytes(2, "big") for r in registers)
    return bytes([code, len(data)]) + data


def test_a_full_block_of_125_registers_reads_as_pymodbus_reads_it() -> None:
    registers = [(7919 * i) & 0xFFFF for i in range(125)]
    for code in (3, 4):
        frame = register_reply(code, registers)
        ours = _StrictDecoder(False).decode(frame)
        same_reading(ours, pymodbus_reads(frame), frame)
        assert ours is not None and ours.registers == registers


def test_a_full_block_of_2000_coils_reads_as_pymodbus_reads_it() -> None:
    data = bytes((37 * i) & 0xFF for i in range(250))
    for code in (1, 2):
        frame = bytes([code, len(data)]) + data
        ours = _StrictDecoder(False).decode(frame)
        same_reading(ours, pymodbus_reads(frame), frame)
        assert ours is not None and len(ours.bits) == 2000


@given(
    code=st.sampled_from([*READS, 0x81, 0x83, 0x84]),
    registers=st.lists(st.integers(0, 0xFFFF), max_size=125),
)
def test_well_formed_replies_read_the_same(code: int, registers: list[int]) -> None:
    frame = register_reply(code, registers)
    same_reading(_StrictDecoder(False).decode(frame), pymodbus_reads(frame), frame)


@given(
    code=st.sampled_from(READS),
    byte_count=st.integers(0, 255),
    data=st.binary(max_size=260),
)
def test_any_byte_count_reads_the_same(code: int, byte_count: int, data: bytes) -> None:
    # odd counts, counts past the frame, counts shorter than it: pymodbus decides
    frame = bytes([code, byte_count]) + data
    same_reading(_StrictDecoder(False).decode(frame), pymodbus_reads(frame), frame)
