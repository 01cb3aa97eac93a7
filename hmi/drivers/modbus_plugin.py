"""Modbus TCP and RTU as protocol plug-ins (:mod:`hmi.drivers.protocol`).

The lines, links and decoding are :mod:`hmi.drivers.line` and its helpers (the only
users of pymodbus, imported when a line opens); the project fields are read by
:mod:`hmi.project.modbus_fields`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from hmi.core.address import Address
from hmi.core.command import Command
from hmi.core.tag import DataType, Tag
from hmi.drivers.protocol import DeviceLine
from hmi.drivers.sink import Sink
from hmi.project.fields import Fields
from hmi.project.modbus_fields import read_modbus_address, read_modbus_device
from hmi.project.model import DeviceConfig


class ModbusProtocol:
    """``modbus-tcp`` (a line per device) or ``modbus-rtu`` (a line per serial port)."""

    def __init__(self, name: str) -> None:
        self.name = name

    # -- project side ---------------------------------------------------------------------
    def read_device(self, f: Fields, base: DeviceConfig) -> DeviceConfig | None:
        """Host, port, unit, serial line and retries (:func:`read_modbus_device`)."""
        return read_modbus_device(f, base)

    def read_address(
        self, f: Fields, device: DeviceConfig, data_type: DataType | None
    ) -> Address | None:
        """``hr:100`` and friends (:func:`read_modbus_address`)."""
        layout = read_modbus_address(f, data_type)
        return layout.address if layout is not None else None

    def device_fields(self, config: DeviceConfig) -> dict[str, Any]:
        """The Modbus fields of ``config``."""
        data: dict[str, Any] = {
            "host": config.host,
            "port": config.port,
            "unit_id": config.unit_id,
            "retries": config.retries,
        }
        if config.protocol == "modbus-rtu":
            data |= {
                "serial_port": config.serial_port,
                "baudrate": config.baudrate,
                "parity": config.parity,
                "stop_bits": config.stop_bits,
            }
        return data

    # -- driver side ----------------------------------------------------------------------
    def line_key(self, config: DeviceConfig) -> str:
        """Its own line for a TCP device; the serial port's for RTU units."""
        if self.name == "modbus-tcp":
            return f"tcp:{config.name}"
        return f"rtu:{config.serial_port}"

    def same_link(self, old: DeviceConfig, new: DeviceConfig) -> bool:
        """A change of a connection's field (:meth:`DeviceConfig.link_fields`, the rule
        the project loader checks an RTU line's units with) needs a reconnect."""
        return old.same_link(new)

    def open_line(
        self, key: str, sink: Sink, poll_groups: Mapping[str, float], **options: Any
    ) -> DeviceLine:
        """A polling :class:`~hmi.drivers.line.Line`."""
        from hmi.drivers.line import Line  # pymodbus is loaded only when a line opens

        return Line(key, sink, poll_groups, **options)

    def plan_write(self, command: Command, tag: Tag) -> Any:
        """Function code and raw registers (:func:`hmi.drivers.writes.encode_write`)."""
        return _encode_write()(command, tag)


@functools.cache
def _encode_write() -> Callable[[Command, Tag], Any]:
    """:func:`hmi.drivers.writes.encode_write`, imported at the first write (it loads
    pymodbus) and kept: under PySide6, whose import hook is Python code, an import
    statement on every write costs a few microseconds."""
    from hmi.drivers.writes import encode_write

    return encode_write


MODBUS_TCP = ModbusProtocol("modbus-tcp")
MODBUS_RTU = ModbusProtocol("modbus-rtu")
