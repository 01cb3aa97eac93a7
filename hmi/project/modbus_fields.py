"""The Modbus fields of a project file: a device's link, a tag's address and layout.

The loader reads them itself (Modbus addresses are :mod:`hmi.core.address`'s); the
Modbus protocol plug-in (:mod:`hmi.drivers.modbus_plugin`) answers with these too.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from hmi.core.address import AddressError, ModbusAddress
from hmi.core.tag import DataType
from hmi.project.fields import Fields
from hmi.project.model import DeviceConfig

#: RTU frames over TCP: a serial-to-Ethernet converter's address
_TCP_SERIAL = re.compile(
    r"^tcp://[^\s:/]+:(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}"
    r"|655[0-2][0-9]|6553[0-5])$"
)
_ORDERS = ("big", "little")


def read_modbus_device(f: Fields, base: DeviceConfig) -> DeviceConfig | None:
    """``base`` with the Modbus fields of ``f`` (host, port, unit, serial line, retries)."""
    values: dict[str, Any] = {
        "host": f.text("host", "127.0.0.1"),
        "port": f.integer("port", 502, 1, 65535),
        "unit_id": f.integer("unit_id", 1, 0, 255),
        "serial_port": f.text("serial_port", ""),
        "baudrate": f.integer("baudrate", 19200, 300, 4_000_000),
        "parity": f.choice("parity", ("N", "E", "O"), "E"),
        "stop_bits": f.integer("stop_bits", 1, 1, 2),
        "retries": f.integer("retries", 1, 0, 10),
    }
    if base.protocol == "modbus-rtu" and not values["serial_port"]:
        f.ctx.error(f.node, f"{f.path}.serial_port", "modbus-rtu needs a serial_port")
        return None
    port = values["serial_port"] or ""
    if port.startswith("tcp://") and not _TCP_SERIAL.match(port):
        # the link would fail to start on it (int() of the port), long after `hmi check`
        f.ctx.error(
            f.node_of("serial_port"),
            f"{f.path}.serial_port",
            f"expected tcp://HOST:PORT (a port 1..65535), found {port!r}",
        )
        return None
    if any(v is None for v in values.values()):
        return None
    return dataclasses.replace(base, **values)


@dataclasses.dataclass(frozen=True, slots=True)
class ModbusLayout:
    """A Modbus tag's address and how its registers hold the value."""

    address: ModbusAddress
    byte_order: str
    word_order: str
    length: int


def read_modbus_address(f: Fields, data_type: DataType | None) -> ModbusLayout | None:
    """The ``address``, ``byte_order``, ``word_order`` and ``length`` of tag mapping ``f``."""
    byte_order = f.choice("byte_order", _ORDERS, "big")
    word_order = f.choice("word_order", _ORDERS, "big")
    length = f.integer("length", 1, 1, 123)
    address_text = f.text("address", None)
    if address_text is None:
        f.ctx.error(
            f.node_of("address") or f.node,
            f"{f.path}.address",
            "a device tag needs an address (e.g. hr:100)",
        )
        return None
    try:
        address = ModbusAddress.parse(address_text)
    except AddressError as exc:
        f.ctx.error(f.node_of("address"), f"{f.path}.address", str(exc))
        return None
    ok = True
    if data_type is not None and not fits(address, data_type):
        f.ctx.error(
            f.node_of("address"),
            f"{f.path}.address",
            f"type {data_type.value} does not fit {address}: coils, discrete inputs and "
            "register bits are bool",
        )
        ok = False
    if data_type is not None and length is not None and beyond(address, data_type, length):
        f.ctx.error(
            f.node_of("address"),
            f"{f.path}.address",
            f"{data_type.value} at {address} runs past register 65535",
        )
        ok = False
    if not ok or None in (byte_order, word_order, length):
        return None
    return ModbusLayout(address, byte_order, word_order, length)


def beyond(address: ModbusAddress, data_type: DataType, length: int) -> bool:
    """True when the registers of a value at ``address`` run past the last one."""
    if address.table.is_bits or address.bit is not None:
        return False
    size = length if data_type is DataType.STRING else data_type.register_count
    return address.offset + size > 65536


def fits(address: ModbusAddress, data_type: DataType) -> bool:
    """True when a value of ``data_type`` may live at ``address`` (bits hold only bools)."""
    # A bool may also be a whole register (non-zero = true); numbers never fit one bit.
    is_bit = address.table.is_bits or address.bit is not None
    return data_type is DataType.BOOL or not is_bit
