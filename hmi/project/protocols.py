"""Which protocols a project's devices may name, and how each reads its own fields.

A device's ``protocol:`` selects a plug-in. Modbus (``modbus-tcp``, ``modbus-rtu``) is
read by the loader itself (its addresses are :mod:`hmi.core.address`'s); every other
protocol is found by name, first among the ones this package ships, then in the
``hmi.protocols`` entry-point group (the way PyDM finds its data plugins), and reads its
device fields and tag addresses itself through :class:`ProtocolSpec`, reporting its
errors as ``file:line: field: message`` like the rest of the loader.

Nothing here imports a protocol's library: a plug-in's object is imported only when a
project names it (so ``hmi check`` of a Modbus project never loads asyncua), and the
plug-in imports its library only when a device runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from hmi.core.address import Address
from hmi.core.tag import DataType
from hmi.project.fields import Fields
from hmi.project.model import MODBUS_PROTOCOLS, DeviceConfig

#: the entry-point group third-party protocols register in (``[project.entry-points]``)
ENTRY_POINT_GROUP = "hmi.protocols"

#: the plug-ins this package ships: name -> ``module:attribute`` (no entry point needed, so
#: an out-of-date install still finds them)
BUILTIN: Mapping[str, str] = {
    "modbus-tcp": "hmi.drivers.modbus_plugin:MODBUS_TCP",
    "modbus-rtu": "hmi.drivers.modbus_plugin:MODBUS_RTU",
    "opcua": "hmi.drivers.opcua.plugin:OPCUA",
    "sparkplug": "hmi.drivers.sparkplug.plugin:SPARKPLUG",
}


@runtime_checkable
class ProtocolSpec(Protocol):
    """What the project loader needs of a protocol: reading its own fields.

    Errors go to ``f.ctx.error(node, field, message)`` (node from ``f.node_of(key)``),
    so they carry the file and line; a method returns None when anything was wrong.
    Fields the method does not read are reported as unknown by the loader.
    """

    #: the value of ``protocol:`` that selects it
    name: str

    def read_device(self, f: Fields, base: DeviceConfig) -> DeviceConfig | None:
        """The device of mapping ``f``: ``base`` (the common fields: name, protocol,
        timeout, reconnect_max, settle, enabled, description, line already read) with the
        protocol's own fields, typically ``dataclasses.replace(base, settings=...)``."""

    def read_address(
        self, f: Fields, device: DeviceConfig, data_type: DataType | None
    ) -> Address | None:
        """The address of the tag mapping ``f`` on ``device`` (its ``address`` field and
        any further fields of the protocol, e.g. ``sampling_interval``).

        The tags of a device that :meth:`read_device` refused are read too (every error
        at once), with a stand-in ``device``: its common fields, ``settings`` None."""

    def device_fields(self, config: DeviceConfig) -> dict[str, Any]:
        """The protocol's own fields of ``config`` as the project file writes them (the
        driver actor's RPC re-validates a device through the loader with them)."""


class UnknownProtocol(LookupError):
    """No plug-in of that name; the message lists the known ones."""


def _entry_points() -> list[Any]:
    """The ``hmi.protocols`` entry points (importlib.metadata is loaded only when asked:
    a Modbus project never needs it, and it costs start-up time)."""
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def known_protocols() -> tuple[str, ...]:
    """Every protocol name a device may use: the shipped ones and the entry points."""
    names = set(BUILTIN)
    names.update(point.name for point in _entry_points())
    return tuple(sorted(names))


_loaded: dict[str, Any] = {}


def load_protocol(name: str) -> Any:
    """The plug-in object called ``name`` (imported once); raises :class:`UnknownProtocol`.

    The object is the protocol's :class:`ProtocolSpec` and, for the drivers, its
    :class:`hmi.drivers.protocol.ProtocolPlugin`; this layer only reads projects, so it
    returns it untyped and each caller checks the side it needs.
    """
    plugin = _loaded.get(name)
    if plugin is not None:
        return plugin
    target = BUILTIN.get(name)
    if target is None:
        found = [p for p in _entry_points() if p.name == name]
        if not found:
            raise UnknownProtocol(
                f"unknown protocol {name!r} (known: {', '.join(known_protocols())})"
            )
        plugin = found[0].load()
    else:
        module, _, attribute = target.partition(":")
        plugin = getattr(importlib.import_module(module), attribute)
    if getattr(plugin, "name", None) != name:
        raise UnknownProtocol(f"protocol plug-in {name!r} names itself {plugin.name!r}")
    _loaded[name] = plugin
    return plugin


def protocol_spec(name: str) -> ProtocolSpec:
    """The project side of the plug-in ``name`` (see :func:`load_protocol`)."""
    plugin = load_protocol(name)
    if not isinstance(plugin, ProtocolSpec):
        raise UnknownProtocol(f"protocol plug-in {name!r} cannot read project files")
    return plugin


def is_modbus(name: str) -> bool:
    """True for the protocols the loader reads itself."""
    return name in MODBUS_PROTOCOLS
