"""Load and validate a project file, reporting every error with file, line and field."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from hmi.core.address import AddressError, ModbusAddress
from hmi.core.expression import Expression, ExpressionError
from hmi.core.passwords import is_password_hash
from hmi.core.tag import TAG_NAME, AlarmLimits, DataType, Limits, Scaling, Source, Tag
from hmi.project.errors import ProjectError
from hmi.project.model import (
    DEFAULT_POLL_GROUPS,
    DEFAULT_ROLES,
    PROTOCOLS,
    BusConfig,
    DeviceConfig,
    HistorianConfig,
    Project,
    ScreenConfig,
    UserConfig,
)
from hmi.project.yamlnode import Context, Fields, YamlSyntaxError, compose

_SECTIONS = (
    "name",
    "description",
    "start_screen",
    "roles",
    "poll_groups",
    "bus",
    "historian",
    "devices",
    "tags",
    "screens",
    "users",
)
_ORDERS = ("big", "little")


def load_project(path: str | Path) -> Project:
    """Read, parse and validate a project file; raise :class:`ProjectError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        ctx = Context(str(path))
        ctx.error(None, "(file)", f"cannot read: {exc.strerror or exc}")
        raise ProjectError(ctx.errors) from None
    except UnicodeDecodeError as exc:
        ctx = Context(str(path))
        ctx.error(None, "(file)", f"not UTF-8 text: {exc.reason}")
        raise ProjectError(ctx.errors) from None
    return parse_project(text, path)


def parse_project(text: str, path: str | Path = "<project>") -> Project:
    """Validate project YAML ``text``; ``path`` names it in errors and anchors relative paths."""
    path = Path(path)
    ctx = Context(str(path))
    try:
        root = compose(text, str(path))
    except YamlSyntaxError as exc:
        raise ProjectError([exc.error]) from None
    top = Fields.of(root, "", ctx)
    if top is None:
        raise ProjectError(ctx.errors)
    project = _Loader(top, ctx, path).project()
    if ctx.errors or project is None:
        raise ProjectError(ctx.errors)
    return project


class _Loader:
    """Reads the sections in dependency order: roles and devices before tags and users."""

    def __init__(self, top: Fields, ctx: Context, path: Path) -> None:
        self.top = top
        self.ctx = ctx
        self.path = path

    def project(self) -> Project | None:
        top = self.top
        name = top.text("name")
        description = top.text("description", "")
        roles = self._roles()
        poll_groups = self._poll_groups()
        devices = self._devices()
        tags = self._tags(devices, roles, poll_groups)
        screens = self._screens()
        users = self._users(roles)
        start = top.text("start_screen", "")
        if start and start not in screens:
            self.ctx.error(top.node_of("start_screen"), "start_screen", f"unknown screen {start!r}")
        bus = self._bus()
        historian = self._historian()
        top.finish()
        if name is None or bus is None or historian is None:
            return None
        return Project(
            name=name,
            path=self.path,
            description=description,
            devices=MappingProxyType(devices),
            tags=MappingProxyType(tags),
            screens=MappingProxyType(screens),
            users=MappingProxyType(users),
            roles=roles,
            poll_groups=MappingProxyType(poll_groups),
            bus=bus,
            historian=historian,
            start_screen=start or next(iter(screens), ""),
        )

    # -- small sections --------------------------------------------------------------------
    def _roles(self) -> tuple[str, ...]:
        roles = self.top.text_list("roles", list(DEFAULT_ROLES))
        if roles is None:
            return DEFAULT_ROLES
        seen: list[str] = []
        for role in roles:
            if role in seen:
                self.ctx.error(self.top.node_of("roles"), "roles", f"duplicate role {role!r}")
            else:
                seen.append(role)
        return tuple(seen)

    def _poll_groups(self) -> dict[str, float]:
        section = self.top.mapping("poll_groups")
        if section is None:
            return dict(DEFAULT_POLL_GROUPS)
        groups: dict[str, float] = {}
        for key_node, _ in section.node.value:
            key = str(key_node.value)
            period = section.number(key)
            if period is not None and period <= 0:
                self.ctx.error(key_node, f"poll_groups.{key}", "period must be above 0 seconds")
            elif period is not None:
                groups[key] = period
        section.finish()
        return groups

    def _bus(self) -> BusConfig | None:
        section = self.top.mapping("bus")
        if section is None:
            return BusConfig()
        bus = BusConfig(
            mode=section.choice("mode", ("local", "broker"), "local"),
            broker=section.text("broker", ""),
            discovery=section.boolean("discovery", True),
            heartbeat_interval=section.number("heartbeat_interval", 1.0),
        )
        section.finish()
        return bus

    def _historian(self) -> HistorianConfig | None:
        section = self.top.mapping("historian")
        if section is None:
            return HistorianConfig()
        path = section.text("path", "data/history.sqlite")
        historian = HistorianConfig(
            enabled=section.boolean("enabled", True),
            path=Path(path) if path else Path("data/history.sqlite"),
            retention_days=section.number("retention_days", 30.0),
            max_interval=section.number("max_interval", 60.0),
            flush_interval=section.number("flush_interval", 1.0),
        )
        section.finish()
        return historian

    # -- devices -----------------------------------------------------------------------------
    def _devices(self) -> dict[str, DeviceConfig]:
        devices: dict[str, DeviceConfig] = {}
        for field, node in self.top.items("devices"):
            fields = Fields.of(node, field, self.ctx)
            if fields is None:
                continue
            device = self._device(fields)
            fields.finish()
            if device is None:
                continue
            if device.name in devices:
                self.ctx.error(node, f"{field}.name", f"duplicate device name {device.name!r}")
                continue
            devices[device.name] = device
        return devices

    def _device(self, f: Fields) -> DeviceConfig | None:
        name = f.text("name")
        protocol = f.choice("protocol", PROTOCOLS, "modbus-tcp")
        values: dict[str, Any] = {
            "host": f.text("host", "127.0.0.1"),
            "port": f.integer("port", 502, 1, 65535),
            "unit_id": f.integer("unit_id", 1, 0, 255),
            "serial_port": f.text("serial_port", ""),
            "baudrate": f.integer("baudrate", 19200, 300, 4_000_000),
            "parity": f.choice("parity", ("N", "E", "O"), "E"),
            "stop_bits": f.integer("stop_bits", 1, 1, 2),
            "timeout": f.number("timeout", 0.5),
            "retries": f.integer("retries", 1, 0, 10),
            "reconnect_max": f.number("reconnect_max", 10.0),
            "enabled": f.boolean("enabled", True),
            "description": f.text("description", ""),
        }
        if values["timeout"] is not None and values["timeout"] <= 0:
            self.ctx.error(f.node_of("timeout"), f"{f.path}.timeout", "must be above 0 seconds")
            return None
        if protocol == "modbus-rtu" and not values["serial_port"]:
            self.ctx.error(f.node, f"{f.path}.serial_port", "modbus-rtu needs a serial_port")
            return None
        if name is None or protocol is None or any(v is None for v in values.values()):
            return None
        return DeviceConfig(name=name, protocol=protocol, line=f.line, **values)

    # -- tags --------------------------------------------------------------------------------
    def _tags(
        self, devices: dict[str, DeviceConfig], roles: tuple[str, ...], groups: dict[str, float]
    ) -> dict[str, Tag]:
        tags: dict[str, Tag] = {}
        first_line: dict[str, int] = {}
        expressions: dict[str, tuple[Expression, Fields]] = {}
        for field, node in self.top.items("tags"):
            fields = Fields.of(node, field, self.ctx)
            if fields is None:
                continue
            tag = _TagReader(fields, self.ctx, devices, roles, groups).tag()
            fields.finish()
            if tag is None:
                continue
            if tag.name in tags:
                self.ctx.error(
                    fields.node_of("name"),
                    f"{field}.name",
                    f"duplicate tag name {tag.name!r} (first defined on line "
                    f"{first_line[tag.name]})",
                )
                continue
            tags[tag.name] = tag
            first_line[tag.name] = fields.line
            if tag.expression is not None:
                expressions[tag.name] = (Expression.parse(tag.expression), fields)
        self._check_expressions(tags, expressions)
        return tags

    def _check_expressions(
        self, tags: dict[str, Tag], expressions: dict[str, tuple[Expression, Fields]]
    ) -> None:
        """Every tag an expression names must exist, and calculations must not loop."""
        for name, (expression, fields) in expressions.items():
            node = fields.node_of("expression") or fields.node
            for ref in expression.tags:
                if ref == name or ref not in tags:
                    why = "refers to itself" if ref == name else f"unknown tag {ref!r}"
                    self.ctx.error(node, f"{fields.path}.expression", f"{why} in {{{ref}}}")
        state: dict[str, int] = {}  # 1 = being visited, 2 = done

        def visit(name: str, path: list[str]) -> None:
            state[name] = 1
            for ref in expressions[name][0].tags:
                if ref == name or ref not in expressions:
                    continue
                if state.get(ref) == 1:
                    loop = " -> ".join([*path[path.index(ref) :], ref])
                    fields = expressions[name][1]
                    node = fields.node_of("expression") or fields.node
                    self.ctx.error(node, f"{fields.path}.expression", f"circular: {loop}")
                elif ref not in state:
                    visit(ref, [*path, ref])
            state[name] = 2

        for name in expressions:
            if name not in state:
                visit(name, [name])

    # -- screens and users -------------------------------------------------------------------
    def _screens(self) -> dict[str, ScreenConfig]:
        screens: dict[str, ScreenConfig] = {}
        for field, node in self.top.items("screens"):
            f = Fields.of(node, field, self.ctx)
            if f is None:
                continue
            name, file, title = f.text("name"), f.text("file"), f.text("title", "")
            macros = self._macros(f)
            f.finish()
            if name is None or file is None or macros is None:
                continue
            resolved = (self.path.parent / file).resolve()
            if not resolved.is_file():
                self.ctx.error(f.node_of("file"), f"{field}.file", f"no such file: {resolved}")
                continue
            if name in screens:
                self.ctx.error(node, f"{field}.name", f"duplicate screen name {name!r}")
                continue
            screens[name] = ScreenConfig(name, resolved, title or name, MappingProxyType(macros))
        return screens

    def _macros(self, f: Fields) -> dict[str, str] | None:
        section = f.mapping("macros")
        if section is None:
            return {}
        macros: dict[str, str] = {}
        for key_node, _ in section.node.value:
            value = section.scalar(str(key_node.value))
            if value is None:
                return None
            macros[str(key_node.value)] = str(value)
        return macros

    def _users(self, roles: tuple[str, ...]) -> dict[str, UserConfig]:
        users: dict[str, UserConfig] = {}
        for field, node in self.top.items("users"):
            f = Fields.of(node, field, self.ctx)
            if f is None:
                continue
            name = f.text("name")
            user_roles = f.text_list("roles")
            full_name = f.text("full_name", "")
            password_hash = f.text("password_hash", "")
            f.finish()
            if user_roles is not None:
                _check_roles(self.ctx, f, "roles", user_roles, roles)
            if password_hash and not is_password_hash(password_hash):
                self.ctx.error(
                    f.node_of("password_hash"),
                    f"{field}.password_hash",
                    "expected a hash made by `hmi passwd` (scrypt$N$r$p$salt$hash), "
                    "never a plain password",
                )
                continue
            if name is None or user_roles is None:
                continue
            if name in users:
                self.ctx.error(node, f"{field}.name", f"duplicate user name {name!r}")
                continue
            users[name] = UserConfig(name, frozenset(user_roles), full_name, password_hash)
        return users


class _TagReader:
    """Reads one tag mapping, cross-checking devices, roles and poll groups."""

    def __init__(
        self,
        f: Fields,
        ctx: Context,
        devices: dict[str, DeviceConfig],
        roles: tuple[str, ...],
        groups: dict[str, float],
    ) -> None:
        self.f, self.ctx, self.devices, self.roles, self.groups = f, ctx, devices, roles, groups

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
            _check_roles(self.ctx, f, "write_roles", write_roles, self.roles)
        expression = f.text("expression", None)
        expression_ok = True
        if expression is not None:
            try:
                Expression.parse(expression)
            except ExpressionError as exc:
                self._error("expression", str(exc))
                expression_ok = False
        source = self._source(data_type)
        if source is not None and expression is not None:
            self._error("expression", "a tag has either a device or an expression, not both")
        parts = {
            "unit": f.text("unit", ""),
            "description": f.text("description", ""),
            "format": f.text("format", ""),
            "scaling": self._scaling(),
            "limits": self._limits(),
            "alarms": self._alarms(),
        }
        if name is None or data_type is None or write_roles is None or source is False:
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
        choices = tuple(t.value for t in DataType)
        value = self.f.choice("type", choices, DataType.FLOAT64.value)
        return None if value is None else DataType(value)

    def _source(self, data_type: DataType | None) -> Source | bool | None:
        """The device source; None for none, False when it was given but is wrong."""
        f = self.f
        device = f.text("device", None)
        address_text = f.text("address", None)
        group = f.text("poll_group", "normal")
        byte_order = f.choice("byte_order", _ORDERS, "big")
        word_order = f.choice("word_order", _ORDERS, "big")
        length = f.integer("length", 1, 1, 123)
        deadband = f.number("deadband", 0.0)
        if device is None and address_text is None:
            return None
        ok = True
        if device is None:
            self._error("device", "an address needs a device")
            return False
        if device not in self.devices:
            known = ", ".join(sorted(self.devices)) or "none defined"
            self._error("device", f"unknown device {device!r} (known: {known})")
            ok = False
        if address_text is None:
            self._error("address", "a device tag needs an address (e.g. hr:100)")
            return False
        try:
            address = ModbusAddress.parse(address_text)
        except AddressError as exc:
            self._error("address", str(exc))
            return False
        if data_type is not None and not _fits(address, data_type):
            self._error(
                "address",
                f"type {data_type.value} does not fit {address}: coils, discrete inputs and "
                "register bits are bool",
            )
            ok = False
        if group is not None and group not in self.groups:
            self._error(
                "poll_group", f"unknown poll group {group!r} (known: {', '.join(self.groups)})"
            )
            ok = False
        if deadband is not None and deadband < 0:
            self._error("deadband", "must not be negative")
            ok = False
        if not ok or None in (group, byte_order, word_order, length, deadband):
            return False
        return Source(device, address, group, byte_order, word_order, length, deadband)

    def _scaling(self) -> Scaling | bool | None:
        section = self.f.mapping("scaling")
        if section is None:
            return None
        values = [section.number(k) for k in ("raw_min", "raw_max", "eng_min", "eng_max")]
        section.finish()
        if None in values:
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
        }
        section.finish()
        if any(values[k] is None for k in ("deadband", "priority", "on_delay", "off_delay")):
            return False
        try:
            return AlarmLimits(**values)
        except ValueError as exc:
            self._error("alarms", str(exc))
            return False


def _fits(address: ModbusAddress, data_type: DataType) -> bool:
    # A bool may also be a whole register (non-zero = true); numbers never fit one bit.
    is_bit = address.table.is_bits or address.bit is not None
    return data_type is DataType.BOOL or not is_bit


def _check_roles(
    ctx: Context, f: Fields, key: str, given: list[str], known: tuple[str, ...]
) -> None:
    for role in given:
        if role not in known:
            ctx.error(
                f.node_of(key),
                f"{f.path}.{key}",
                f"unknown role {role!r} (known: {', '.join(known)})",
            )
