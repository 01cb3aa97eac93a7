"""Read one tag of a project file: type, device source, scaling, limits and alarms.

Cross-checks against the project's devices, roles and poll groups; every error goes to the
shared :class:`~hmi.project.fields.Context` with its line and field, and a wrong part
makes the tag ``None`` (so the loader reports all errors at once and builds nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hmi.core.address import Address
from hmi.core.command import SETTLE_MAX
from hmi.core.expression import Expression, ExpressionError
from hmi.core.tag import (
    TAG_NAME,
    AlarmLimits,
    BadQualityPolicy,
    DataType,
    Limits,
    Scaling,
    Source,
    Tag,
)
from hmi.project.fields import Context, Fields
from hmi.project.modbus_fields import read_modbus_address
from hmi.project.model import DeviceConfig
from hmi.project.protocols import is_modbus, protocol_spec

_POLICIES = tuple(policy.value for policy in BadQualityPolicy)
_TYPES = tuple(data_type.value for data_type in DataType)


@dataclass(frozen=True, slots=True)
class RejectedDevice:
    """A device the loader refused (its errors are recorded): its tags name a device that
    is defined, so they are not tags of an unknown device, and their addresses are read by
    its protocol when that is known; only the device's own errors make the project fail."""

    name: str
    #: the device's common fields and its protocol (``settings`` unset), when it names a
    #: known protocol; None when its ``protocol`` is unknown or not readable
    stand_in: DeviceConfig | None


_NONE_REJECTED: Mapping[str, RejectedDevice] = MappingProxyType({})


class TagReader:
    """Reads one tag mapping, cross-checking devices, roles and poll groups."""

    def __init__(
        self,
        f: Fields,
        ctx: Context,
        devices: dict[str, DeviceConfig],
        roles: tuple[str, ...],
        groups: dict[str, float],
        *,
        rejected: Mapping[str, RejectedDevice] = _NONE_REJECTED,
    ) -> None:
        self.f, self.ctx, self.devices, self.roles, self.groups = f, ctx, devices, roles, groups
        #: the devices defined but refused, by name (:class:`RejectedDevice`)
        self.rejected = rejected

    def _error(self, key: str, message: str) -> None:
        self.ctx.error(self.f.node_of(key) or self.f.node, f"{self.f.path}.{key}", message)

    def tag(self) -> Tag | None:
        f = self.f
        name = f.text("name")
        if name is not None and not TAG_NAME.match(name):
            self._error("name", f"expected area/device/point, found {name!r}")
            name = None
        data_type = self._data_type()
        write_roles = f.text_list("write_roles", [])
        if write_roles is not None:
            check_roles(self.ctx, f, "write_roles", write_roles, self.roles)
        expression = f.text("expression", None)
        expression_ok = True
        if expression is not None:
            try:
                Expression.parse(expression)
            except ExpressionError as exc:
                self._error("expression", str(exc))
                expression_ok = False
        source = self._source(data_type)
        both = source is not None and expression is not None
        if both:
            # Tag() refuses the pair with a ValueError: reported here, the tag not built
            self._error("expression", "a tag has either a device or an expression, not both")
        parts = {
            "unit": f.text("unit", ""),
            "description": f.text("description", ""),
            "format": f.text("format", ""),
            "scaling": self._scaling(),
            "limits": self._limits(),
            "alarms": self._alarms(),
        }
        if name is None or data_type is None or write_roles is None or source is False or both:
            return None
        if not expression_ok:
            return None
        if any(value is False for value in parts.values()):
            return None
        if parts["limits"] is None:
            parts["limits"] = Limits()
        return Tag(
            name=name,
            data_type=data_type,
            write_roles=frozenset(write_roles),
            source=source if isinstance(source, Source) else None,
            expression=expression,
            **parts,
        )

    def _data_type(self) -> DataType | None:
        value = self.f.choice("type", _TYPES, DataType.FLOAT64.value)
        return None if value is None else DataType(value)

    def _source(self, data_type: DataType | None) -> Source | bool | None:
        """The device source; None for none, False when it was given but is wrong.

        The address (and any field of its own) is read by the device's protocol: Modbus
        here (:mod:`hmi.project.modbus_fields`), another through its plug-in."""
        f = self.f
        device = f.text("device", None)
        group = f.text("poll_group", "normal")
        deadband = f.number("deadband", 0.0)
        settle = f.number("settle", None)
        if device is None and not f.has("address"):
            if settle is not None:
                self._error("settle", "only a device tag is written and read back")
                return False
            return None
        ok = True
        if device is None:
            f.node_of("address")
            self._error("device", "an address needs a device")
            return False
        config = self.devices.get(device)
        rejected = self.rejected.get(device) if config is None else None
        if rejected is not None:
            # A device defined but refused: its own errors say what is wrong (and the
            # project is not built); its tags are checked as far as its protocol is known.
            config = rejected.stand_in
            ok = False
        elif config is None:
            known = ", ".join(sorted({*self.devices, *self.rejected})) or "none defined"
            self._error("device", f"unknown device {device!r} (known: {known})")
            ok = False
        address: Address | None = None
        orders: tuple[str, str, int] = ("big", "big", 1)
        if rejected is not None and config is None:
            # its protocol is not known, nor which fields its tags have: none is checked
            self._read_all()
        elif config is None or is_modbus(config.protocol):
            layout = read_modbus_address(f, data_type)
            if layout is None:
                return False
            address = layout.address
            orders = (layout.byte_order, layout.word_order, layout.length)
        else:
            address = protocol_spec(config.protocol).read_address(f, config, data_type)
            if address is None:
                return False
        if group is not None and group not in self.groups:
            self._error(
                "poll_group", f"unknown poll group {group!r} (known: {', '.join(self.groups)})"
            )
            ok = False
        if deadband is not None and deadband < 0:
            self._error("deadband", "must not be negative")
            ok = False
        problem = settle_problem(settle)
        if problem:
            self._error("settle", problem)
            ok = False
        if not ok or address is None or None in (group, deadband):
            return False
        return Source(device, address, group, *orders, deadband, settle)

    def _read_all(self) -> None:
        """Take every field of the tag as read (the fields of a protocol not known)."""
        for key_node, _ in self.f.node.value:
            if isinstance(key_node.value, str):
                self.f.node_of(key_node.value)

    def _scaling(self) -> Scaling | bool | None:
        section = self.f.mapping("scaling")
        if section is None:
            return None
        values = [section.number(k) for k in ("raw_min", "raw_max", "eng_min", "eng_max")]
        section.finish()
        if None in values:
            return False
        if values[2] == values[3]:
            # no engineering span: a write could not be scaled back (division by zero)
            self._error("scaling", "eng_min and eng_max must differ")
            return False
        try:
            return Scaling(*values)
        except ValueError as exc:
            self._error("scaling", str(exc))
            return False

    def _limits(self) -> Limits | bool | None:
        section = self.f.mapping("limits")
        if section is None:
            return None
        low, high = section.number("low", None), section.number("high", None)
        section.finish()
        try:
            return Limits(low, high)
        except ValueError as exc:
            self._error("limits", str(exc))
            return False

    def _alarms(self) -> AlarmLimits | bool | None:
        section = self.f.mapping("alarms")
        if section is None:
            return None
        values = {key: section.number(key, None) for key in ("lolo", "lo", "hi", "hihi")} | {
            "state": section.scalar("state", None),
            "deadband": section.number("deadband", 0.0),
            "priority": section.integer("priority", 3, 1, 4),
            "on_delay": section.number("on_delay", 0.0),
            "off_delay": section.number("off_delay", 0.0),
            "message": section.text("message", ""),
            "suppress_when": section.text("suppress_when", None),
            "bad_quality": section.choice("bad_quality", _POLICIES, BadQualityPolicy.HOLD.value),
        }
        section.finish()
        for key in ("deadband", "on_delay", "off_delay"):
            value = values[key]
            if value is not None and value < 0:  # (else AlarmLimits' error names no field)
                section.invalid(key, f"expected 0 or more, found {value:g}")
                values[key] = None
        required = ("deadband", "priority", "on_delay", "off_delay", "bad_quality")
        if any(values[k] is None for k in required):
            return False
        if values["suppress_when"] is not None:
            try:
                Expression.parse(values["suppress_when"])
            except ExpressionError as exc:
                node = section.node_of("suppress_when") or section.node
                self.ctx.error(node, f"{section.path}.suppress_when", str(exc))
                return False
        values["bad_quality"] = BadQualityPolicy(values["bad_quality"])
        try:
            return AlarmLimits(**values)
        except ValueError as exc:
            self._error("alarms", str(exc))
            return False


def settle_problem(settle: float | None) -> str:
    """Why ``settle`` (a tag's or device's, seconds) is wrong, or ``""``."""
    if settle is not None and not 0.0 <= settle <= SETTLE_MAX:
        return (
            f"must be 0 .. {SETTLE_MAX:g} seconds (a write's result must come before the "
            f"station stops waiting for it), found {settle:g}"
        )
    return ""


def check_roles(
    ctx: Context, f: Fields, key: str, given: list[str], known: tuple[str, ...]
) -> None:
    for role in given:
        if role not in known:
            ctx.error(
                f.node_of(key),
                f"{f.path}.{key}",
                f"unknown role {role!r} (known: {', '.join(known)})",
            )
