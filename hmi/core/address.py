"""Modbus addresses as written in project files: ``hr:100``, ``hr:100.3``, ``co:7``.

``hr`` holding register, ``ir`` input register, ``co`` coil, ``di`` discrete input; the
offset is 0-based (protocol addressing, not the 40001-style numbering); ``.N`` selects bit N
(0 = least significant) of a register.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_OFFSET = 65535
_ADDRESS = re.compile(r"^(?P<table>[a-z]+):(?P<offset>\d+)(?:\.(?P<bit>\d+))?$")


class Table(StrEnum):
    """The four Modbus data tables."""

    HOLDING_REGISTER = "hr"
    INPUT_REGISTER = "ir"
    COIL = "co"
    DISCRETE_INPUT = "di"

    @property
    def is_bits(self) -> bool:
        """True for coils and discrete inputs (one bit per address)."""
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def writable(self) -> bool:
        """True for the tables a master may write (holding registers and coils)."""
        return self in (Table.HOLDING_REGISTER, Table.COIL)


class AddressError(ValueError):
    """A malformed address; the message says what was expected."""


@dataclass(frozen=True, slots=True, order=True)
class ModbusAddress:
    """One Modbus address: table, 0-based offset and, for a bit of a register, its index."""

    table: Table
    offset: int
    bit: int | None = None

    @classmethod
    def parse(cls, text: str) -> ModbusAddress:
        """Parse ``hr:100``, ``ir:3``, ``co:0``, ``di:12`` or ``hr:100.3`` (bit 3)."""
        match = _ADDRESS.match(text.strip())
        if match is None:
            raise AddressError(
                f"malformed address {text!r}: expected TABLE:OFFSET[.BIT] "
                "with TABLE one of hr, ir, co, di (e.g. hr:100 or hr:100.3)"
            )
        table_text = match["table"]
        try:
            table = Table(table_text)
        except ValueError:
            raise AddressError(
                f"unknown table {table_text!r} in {text!r}: expected hr, ir, co or di"
            ) from None
        offset = int(match["offset"])
        if offset > MAX_OFFSET:
            raise AddressError(f"offset {offset} in {text!r} is above {MAX_OFFSET}")
        bit = None if match["bit"] is None else int(match["bit"])
        if bit is not None:
            if table.is_bits:
                raise AddressError(f"{text!r}: a bit index only applies to registers")
            if bit > 15:
                raise AddressError(f"{text!r}: bit index must be 0..15")
        return cls(table, offset, bit)

    @property
    def writable(self) -> bool:
        """True when a master may write this address (holding registers and coils)."""
        return self.table.writable

    def __str__(self) -> str:
        base = f"{self.table.value}:{self.offset}"
        return base if self.bit is None else f"{base}.{self.bit}"


@dataclass(frozen=True, slots=True)
class ProtocolAddress:
    """An address of a protocol other than Modbus, as its plug-in read it from the project.

    ``text`` is the address as written (an OPC UA node id, a Sparkplug metric name);
    ``options`` the plug-in's own parsed tag settings (a frozen dataclass or None), which
    only the plug-in looks into.
    """

    protocol: str
    text: str
    options: object = None
    #: False when the protocol can never write it (a read-only kind of address)
    writable: bool = True

    def __str__(self) -> str:
        return self.text


#: where a device tag's value is: a Modbus address, or another protocol's
Address = ModbusAddress | ProtocolAddress
