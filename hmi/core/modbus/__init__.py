"""Pure Modbus logic: poll planning, register decoding and encoding, report-by-exception.

No sockets and no pymodbus here; hmi.drivers does the I/O and feeds these functions.
"""

from hmi.core.modbus.codec import (
    READ_FUNCTION,
    CodecError,
    FunctionCode,
    Point,
    decode_registers,
    encode_bit,
    encode_registers,
    set_register_bit,
)
from hmi.core.modbus.deadband import ChangeFilter, differs
from hmi.core.modbus.decoder import BlockDecoder
from hmi.core.modbus.plan import (
    MAX_BITS,
    MAX_REGISTERS,
    Block,
    ResponseError,
    decode_block,
    decode_block_reference,
    failed_samples,
    plan_blocks,
    split_block,
)

__all__ = [
    "MAX_BITS",
    "MAX_REGISTERS",
    "READ_FUNCTION",
    "Block",
    "BlockDecoder",
    "ChangeFilter",
    "CodecError",
    "FunctionCode",
    "Point",
    "ResponseError",
    "decode_block",
    "decode_block_reference",
    "decode_registers",
    "differs",
    "encode_bit",
    "encode_registers",
    "failed_samples",
    "plan_blocks",
    "set_register_bit",
    "split_block",
]
