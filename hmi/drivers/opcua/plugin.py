"""The ``opcua`` protocol plug-in (:mod:`hmi.drivers.protocol`): project fields here,
asyncua loaded only when a line opens or a write is planned."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hmi.core.address import Address
from hmi.core.command import Command
from hmi.core.tag import DataType, Tag
from hmi.drivers.opcua.settings import (
    PROTOCOL,
    OpcUaSettings,
    read_opcua_address,
    read_opcua_device,
)
from hmi.drivers.protocol import DeviceLine
from hmi.drivers.sink import Sink
from hmi.project.fields import Fields
from hmi.project.model import DeviceConfig


class OpcUaProtocol:
    """OPC UA client devices: one session and subscription per server (``endpoint``)."""

    name = PROTOCOL

    def read_device(self, f: Fields, base: DeviceConfig) -> DeviceConfig | None:
        """Endpoint, security, certificates, user (:func:`read_opcua_device`)."""
        return read_opcua_device(f, base)

    def read_address(
        self, f: Fields, device: DeviceConfig, data_type: DataType | None
    ) -> Address | None:
        """A node id and its monitored item's fields (:func:`read_opcua_address`)."""
        return read_opcua_address(f, data_type)

    def device_fields(self, config: DeviceConfig) -> dict[str, Any]:
        """The OPC UA fields of ``config``."""
        assert isinstance(config.settings, OpcUaSettings)
        return config.settings.to_fields()

    def line_key(self, config: DeviceConfig) -> str:
        """A line (session) per device."""
        return config.name

    def same_link(self, old: DeviceConfig, new: DeviceConfig) -> bool:
        """Any change of the settings or timeouts needs a new session."""
        return (old.settings, old.timeout, old.reconnect_max) == (
            new.settings,
            new.timeout,
            new.reconnect_max,
        )

    def open_line(
        self, key: str, sink: Sink, poll_groups: Mapping[str, float], **options: Any
    ) -> DeviceLine:
        """An :class:`~hmi.drivers.opcua.line.OpcUaLine`."""
        from hmi.drivers.opcua.line import OpcUaLine  # asyncua: only when a device runs

        return OpcUaLine(key, sink, poll_groups, **options)

    def plan_write(self, command: Command, tag: Tag) -> Any:
        """The node, OPC UA type and raw value (:func:`hmi.drivers.opcua.writes.plan_write`)."""
        from hmi.drivers.opcua.writes import plan_write

        return plan_write(command, tag)


OPCUA = OpcUaProtocol()
