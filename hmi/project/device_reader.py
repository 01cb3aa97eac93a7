"""Read one device of a project file: the common fields, then its protocol's own.

``protocol:`` (default ``modbus-tcp``) selects the reader of the protocol's fields: the
loader's own for Modbus (:mod:`hmi.project.modbus_fields`), else the plug-in's
(:mod:`hmi.project.protocols`). An unknown protocol is an error that lists the known ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hmi.project.fields import Context, Fields
from hmi.project.modbus_fields import read_modbus_device
from hmi.project.model import DeviceConfig
from hmi.project.protocols import ProtocolSpec, UnknownProtocol, is_modbus, protocol_spec
from hmi.project.tag_reader import RejectedDevice, settle_problem


def read_device(f: Fields) -> DeviceConfig | None:
    """The device of mapping ``f``, or None after recording what is wrong with it."""
    entry = read_device_entry(f)
    return entry if isinstance(entry, DeviceConfig) else None


def read_device_entry(f: Fields) -> DeviceConfig | RejectedDevice | None:
    """The device of mapping ``f``; after recording what is wrong with it, what is known of
    it (:class:`RejectedDevice`: its tags are checked against that, not reported as tags of
    an unknown device), or None when it has no name either."""
    name = f.text("name")
    protocol = f.text("protocol", "modbus-tcp")
    spec: ProtocolSpec | None = None
    if protocol is not None and not is_modbus(protocol):
        try:
            spec = protocol_spec(protocol)
        except UnknownProtocol as exc:
            f.ctx.error(f.node_of("protocol"), f"{f.path}.protocol", str(exc))
            protocol = None
    timeout = f.number("timeout", 0.5)
    if timeout is not None and timeout <= 0:
        f.ctx.error(f.node_of("timeout"), f"{f.path}.timeout", "must be above 0 seconds")
        timeout = None
    reconnect_max = f.number("reconnect_max", 10.0)
    enabled = f.boolean("enabled", True)
    description = f.text("description", "")
    # Optional (None: the default), so not among the values that must not be None.
    settle = f.number("settle", None)
    problem = settle_problem(settle)
    if problem:
        f.ctx.error(f.node_of("settle"), f"{f.path}.settle", problem)
    common = (name, protocol, timeout, reconnect_max, enabled, description)
    # The protocol's fields are read even when a common one is wrong: every error at once.
    base = DeviceConfig(
        name=name or "?",
        protocol=protocol or "modbus-tcp",
        timeout=timeout or 0.5,
        reconnect_max=reconnect_max if reconnect_max is not None else 10.0,
        enabled=enabled is not False,
        description=description or "",
        settle=settle,
        line=f.line,
    )
    device = read_modbus_device(f, base) if spec is None else spec.read_device(f, base)
    if device is not None and not any(v is None for v in common) and not problem:
        return device
    if name is None:
        return None
    # its protocol reads its tags' addresses, if it is a known one
    return RejectedDevice(name, base if protocol is not None else None)


@dataclass(frozen=True, slots=True)
class _OnLine:
    """A device of a shared line, with the mapping it was read from (for the lines)."""

    device: DeviceConfig
    f: Fields


def check_lines(ctx: Context, devices: Iterable[tuple[DeviceConfig, Fields]]) -> None:
    """Record every Modbus RTU unit that cannot share its line as it is written: one whose
    connection settings (:meth:`DeviceConfig.link_differences`: timeout, retries, the
    serial settings, ...) differ from the first unit's on the line, or whose ``unit_id``
    another unit of the line has. The driver could not run the line (its units are polled
    over one connection, one after another)."""
    first: dict[str, _OnLine] = {}
    units: dict[tuple[str, int], _OnLine] = {}
    for device, f in devices:
        if device.protocol != "modbus-rtu":
            continue
        port = device.serial_port
        here = _OnLine(device, f)
        lead = first.setdefault(port, here)
        if lead is not here:
            _differences(ctx, lead.device, here)
        other = units.setdefault((port, device.unit_id), here)
        if other is not here:
            ctx.error(
                f.node_of("unit_id") or f.node,
                f"{f.path}.unit_id",
                f"{device.unit_id} is also {other.device.name}'s on the same line {port} "
                "(each unit of a line answers to its own unit_id)",
            )


def _differences(ctx: Context, lead: DeviceConfig, here: _OnLine) -> None:
    """An error for each link field in which ``here`` differs from the line's ``lead``."""
    device, f = here.device, here.f
    shared = [k for k in lead.link_fields() if k not in _SAME_BY_KEY]
    why = f"a line's devices share {', '.join(shared[:-1])} and {shared[-1]}"
    for key in lead.link_differences(device):
        value = repr(getattr(device, key))
        if not f.has(key):
            value += " (the default)"
        ctx.error(
            f.node_of(key) or f.node,
            f"{f.path}.{key}",
            f"{value} differs from {getattr(lead, key)!r} of {lead.name} on the same line "
            f"{device.serial_port} ({why})",
        )


#: link fields that are the same on one line by how a line is found (its serial port) or
#: that a Modbus device does not have (a plug-in's settings)
_SAME_BY_KEY = ("protocol", "serial_port", "settings")
