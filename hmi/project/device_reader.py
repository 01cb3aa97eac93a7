"""Read one device of a project file: the common fields, then its protocol's own.

``protocol:`` (default ``modbus-tcp``) selects the reader of the protocol's fields: the
loader's own for Modbus (:mod:`hmi.project.modbus_fields`), else the plug-in's
(:mod:`hmi.project.protocols`). An unknown protocol is an error that lists the known ones.
"""

from __future__ import annotations

from hmi.project.fields import Fields
from hmi.project.modbus_fields import read_modbus_device
from hmi.project.model import DeviceConfig
from hmi.project.protocols import ProtocolSpec, UnknownProtocol, is_modbus, protocol_spec
from hmi.project.tag_reader import settle_problem


def read_device(f: Fields) -> DeviceConfig | None:
    """The device of mapping ``f``, or None after recording what is wrong with it."""
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
    if any(v is None for v in common) or problem:
        return None
    return device
