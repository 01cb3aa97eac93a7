"""The ``sparkplug`` protocol plug-in (:mod:`hmi.drivers.protocol`): edge nodes of others
on an MQTT broker as devices. Project fields in :mod:`~hmi.drivers.sparkplug.settings`;
paho and protobuf are loaded only when a line opens or a write is planned."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hmi.core.address import Address
from hmi.core.command import Command
from hmi.core.tag import DataType, Tag
from hmi.drivers.protocol import DeviceLine
from hmi.drivers.sink import Sink
from hmi.drivers.sparkplug.settings import (
    PROTOCOL,
    SparkplugDevice,
    read_sparkplug_address,
    read_sparkplug_device,
)
from hmi.drivers.write_checks import Rejected
from hmi.project.fields import Fields
from hmi.project.model import DeviceConfig


class SparkplugProtocol:
    """Sparkplug B host: devices on one broker share one MQTT connection (a line)."""

    name = PROTOCOL

    def read_device(self, f: Fields, base: DeviceConfig) -> DeviceConfig | None:
        """Broker, group, edge node, device, staleness, credentials."""
        return read_sparkplug_device(f, base)

    def read_address(
        self, f: Fields, device: DeviceConfig, data_type: DataType | None
    ) -> Address | None:
        """The metric's name."""
        return read_sparkplug_address(f, data_type)

    def device_fields(self, config: DeviceConfig) -> dict[str, Any]:
        """The Sparkplug fields of ``config``."""
        assert isinstance(config.settings, SparkplugDevice)
        return config.settings.to_fields()

    def line_key(self, config: DeviceConfig) -> str:
        """One line (MQTT connection) per broker, user and client id."""
        s = config.settings
        assert isinstance(s, SparkplugDevice)
        return f"sparkplug:{s.broker}|{s.username}|{s.client_id}"

    def same_link(self, old: DeviceConfig, new: DeviceConfig) -> bool:
        """A change of the connection's settings needs a new line; of the node, not."""
        a, b = old.settings, new.settings
        assert isinstance(a, SparkplugDevice) and isinstance(b, SparkplugDevice)
        link = ("broker", "client_id", "username", "password", "ca_file", "cert_file", "key_file")
        return all(getattr(a, k) == getattr(b, k) for k in link)

    def open_line(
        self, key: str, sink: Sink, poll_groups: Mapping[str, float], **options: Any
    ) -> DeviceLine:
        """A :class:`~hmi.drivers.sparkplug.line.SparkplugLine`."""
        from hmi.drivers.sparkplug.line import SparkplugLine

        return SparkplugLine(key, sink, poll_groups, **options)

    def plan_write(self, command: Command, tag: Tag) -> Any:
        """The DCMD's metric, datatype and value; Rejected for a value of the wrong kind."""
        from hmi.drivers.sparkplug.line import WritePlan
        from hmi.drivers.sparkplug.payload import DATATYPE_OF

        assert tag.source is not None
        value = command.value
        kind = tag.data_type
        if kind is DataType.BOOL:
            if not isinstance(value, bool | int) or value not in (0, 1):
                raise Rejected(f"{tag.name}: {value!r} is not true or false")
            value = bool(value)
        elif kind is DataType.STRING:
            if not isinstance(value, str):
                raise Rejected(f"{tag.name}: {value!r} is not text")
        elif kind in (DataType.FLOAT32, DataType.FLOAT64):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Rejected(f"{tag.name}: {value!r} is not a number")
            value = float(value)
        else:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise Rejected(f"{tag.name}: {value!r} is not an integer")
            low, high = _RANGES[kind]
            if not low <= value <= high:
                raise Rejected(f"{tag.name}: {value} does not fit {kind} ({low}..{high})")
        return WritePlan(str(tag.source.address), DATATYPE_OF[kind], value)


_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}

SPARKPLUG = SparkplugProtocol()
