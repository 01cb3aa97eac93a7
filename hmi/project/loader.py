"""Load and validate a project file, reporting every error with file, line and field."""

from __future__ import annotations

import gc
from collections.abc import Set
from pathlib import Path
from types import MappingProxyType

from yaml.nodes import ScalarNode

from hmi.core.expression import Expression
from hmi.core.tag import Tag
from hmi.project.device_reader import check_lines, read_device_entry
from hmi.project.errors import ProjectError
from hmi.project.fast_tags import FastTags
from hmi.project.fields import Context, Fields
from hmi.project.model import (
    BUILTIN_SCREENS,
    DEFAULT_POLL_GROUPS,
    DEFAULT_ROLES,
    DeviceConfig,
    Project,
    ScreenConfig,
    UserConfig,
)
from hmi.project.paths import noting, resolve_file
from hmi.project.protocols import is_modbus
from hmi.project.sections import (
    read_bus,
    read_data,
    read_historian,
    read_permissions,
    read_system_alarms,
)
from hmi.project.source import SourceError, read_source
from hmi.project.sparkplug_section import read_sparkplug
from hmi.project.tag_reader import RejectedDevice, TagReader, check_roles
from hmi.project.yamlnode import (
    STR_TAG,
    YamlSyntaxError,
    compose,
    line_of,
    may_hold_controls,
)

#: read tags of the common shape by :mod:`hmi.project.fast_tags` (tests turn it off to
#: compare its answers with the slow path's)
FAST_TAGS = True

_SECTIONS = (
    "name",
    "description",
    "start_screen",
    "builtin_screens",
    "roles",
    "permissions",
    "poll_groups",
    "bus",
    "system_alarms",
    "data",
    "historian",
    "sparkplug",
    "devices",
    "tags",
    "screens",
    "users",
)


def load_project(path: str | Path, *, cache: bool = False) -> Project:
    """Read, parse and validate a project file; raise :class:`ProjectError` on any problem.

    The file must be a regular file of at most 10 MB (:mod:`hmi.project.source`): a FIFO,
    a device or a huge file is refused before it is read. With ``cache``, a project
    validated before from the same text by the same code is rebuilt from the user's cache
    instead (:mod:`hmi.project.cache`), and a newly validated one is kept there.
    """
    path = Path(path)
    try:
        text = read_source(path)
    except SourceError as exc:
        raise ProjectError([exc.error]) from None
    if not cache:
        return parse_project(text, path)
    from hmi.project import cache as kept  # msgspec and hashing: only for the commands

    project = kept.lookup(path, text)
    if project is None:
        with noting() as resolved:
            project = parse_project(text, path)
        kept.keep(path, text, project, resolved)
    return project


def parse_project(text: str, path: str | Path = "<project>") -> Project:
    """Validate project YAML ``text``; ``path`` names it in errors and anchors relative paths."""
    # Reading makes a node per value and a few objects per field, nothing cyclic: the cycle
    # collector would only walk the growing tree again and again (a quarter of the load of
    # a 10,000-tag project). It runs again as soon as the project is built.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse(text, Path(path))
    finally:
        if collecting:
            gc.enable()


def _parse(text: str, path: Path) -> Project:
    ctx = Context(str(path))
    try:
        root = compose(text, str(path))
    except YamlSyntaxError as exc:
        raise ProjectError(exc.errors) from None
    top = Fields.of(root, "", ctx)
    if top is None:
        raise ProjectError(ctx.errors)
    try:
        project = _Loader(top, ctx, path, controls=may_hold_controls(text)).project()
    except RecursionError:
        # compose() bounds the nesting, so this is a bug; still an answer, not a traceback
        ctx.error(None, "(file)", "too deeply nested to be read")
        raise ProjectError(ctx.errors) from None
    if ctx.errors or project is None:
        raise ProjectError(ctx.errors)
    return project


class _Loader:
    """Reads the sections in dependency order: roles and devices before tags and users."""

    def __init__(self, top: Fields, ctx: Context, path: Path, *, controls: bool) -> None:
        self.top = top
        self.ctx = ctx
        self.path = path
        #: whether a text value may hold a control character (one look at the whole text)
        self.controls = controls
        #: devices defined but refused (their errors recorded), by name: their tags are
        #: checked against what is known of them, not reported as of an unknown device
        self.rejected: dict[str, RejectedDevice] = {}

    def project(self) -> Project | None:
        top = self.top
        name = top.text("name")
        description = top.text("description", "")
        roles = self._roles()
        grants = read_permissions(top, roles)
        poll_groups = self._poll_groups()
        devices = self._devices()
        tags = self._tags(devices, roles, poll_groups)
        screens = self._screens()
        users = self._users(roles)
        builtin = top.boolean("builtin_screens", True)
        start = top.text("start_screen", "")
        known = set(screens) | (set(BUILTIN_SCREENS) if builtin else set())
        if start and start not in known:
            self.ctx.error(top.node_of("start_screen"), "start_screen", f"unknown screen {start!r}")
        bus = read_bus(top, self.path.parent)
        system_alarms = read_system_alarms(top)
        data = read_data(top)
        historian = read_historian(top)
        sparkplug = read_sparkplug(top, self.path.parent, tags, users)
        top.finish()
        sections = (name, bus, historian, system_alarms, grants, data)
        if any(section is None for section in sections):
            return None
        assert name is not None and bus is not None and historian is not None
        assert system_alarms is not None and grants is not None and data is not None
        return Project(
            name=name,
            path=self.path,
            description=description,
            devices=MappingProxyType(devices),
            tags=MappingProxyType(tags),
            screens=MappingProxyType(screens),
            users=MappingProxyType(users),
            roles=roles,
            grants=grants,
            poll_groups=MappingProxyType(poll_groups),
            bus=bus,
            system_alarms=system_alarms,
            data=data,
            historian=historian,
            sparkplug=sparkplug,
            # Unset with the built-in screens kept: the built-in home (hmi.screens.catalog).
            start_screen=start or ("" if builtin else next(iter(screens), "")),
            builtin_screens=builtin is not False,
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

    # -- devices -----------------------------------------------------------------------------
    def _devices(self) -> dict[str, DeviceConfig]:
        devices: dict[str, DeviceConfig] = {}
        read: list[tuple[DeviceConfig, Fields]] = []
        for field, node in self.top.items("devices"):
            fields = Fields.of(node, field, self.ctx)
            if fields is None:
                continue
            device = read_device_entry(fields)
            fields.finish()
            if isinstance(device, RejectedDevice):
                self.rejected.setdefault(device.name, device)
                continue
            if device is None:
                continue
            if device.name in devices:
                self.ctx.error(node, f"{field}.name", f"duplicate device name {device.name!r}")
                continue
            devices[device.name] = device
            read.append((device, fields))
        check_lines(self.ctx, read)
        return devices

    # -- tags --------------------------------------------------------------------------------
    def _tags(
        self, devices: dict[str, DeviceConfig], roles: tuple[str, ...], groups: dict[str, float]
    ) -> dict[str, Tag]:
        """Every tag: those of the common shape read in one go (:mod:`hmi.project.fast_tags`),
        any other, and any with something wrong, field by field by TagReader, which names
        the line and field of each problem."""
        tags: dict[str, Tag] = {}
        first_line: dict[str, int] = {}
        expressions: dict[str, tuple[Expression, Fields]] = {}
        suppressions: dict[str, tuple[Expression, Fields]] = {}
        refused: set[str] = set()  # tags defined with errors
        modbus = [name for name, device in devices.items() if is_modbus(device.protocol)]
        fast = FastTags(modbus, roles, groups, controls=self.controls) if FAST_TAGS else None
        for field, node in self.top.items("tags"):
            tag = fast.tag(node) if fast is not None else None
            if tag is not None and tag.name not in tags:
                # the common shape, valid: as TagReader would have read it, at once
                tags[tag.name] = tag
                first_line[tag.name] = line_of(node)
                continue
            fields = Fields.of(node, field, self.ctx)
            if fields is None:
                continue
            reader = TagReader(fields, self.ctx, devices, roles, groups, rejected=self.rejected)
            tag = reader.tag()
            fields.finish()
            if tag is None:
                named = fields.node_of("name")  # its errors are said: not again where named
                if isinstance(named, ScalarNode) and named.tag == STR_TAG:
                    refused.add(named.value)
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
            if tag.alarms is not None and tag.alarms.suppress_when is not None:
                suppressions[tag.name] = (Expression.parse(tag.alarms.suppress_when), fields)
        known = tags.keys() | refused
        self._check_expressions(known, expressions)
        self._check_suppressions(known, suppressions)
        return tags

    def _check_suppressions(
        self, tags: Set[str], suppressions: dict[str, tuple[Expression, Fields]]
    ) -> None:
        """A suppression names existing tags (its own tag may be one: "while it reads 0");
        ``tags`` are the defined ones, with errors or not."""
        for expression, fields in suppressions.values():
            alarms = fields.node_of("alarms")
            for ref in expression.tags:
                if ref not in tags:
                    self.ctx.error(
                        alarms or fields.node,
                        f"{fields.path}.alarms.suppress_when",
                        f"unknown tag {ref!r} in {{{ref}}}",
                    )

    def _check_expressions(
        self, tags: Set[str], expressions: dict[str, tuple[Expression, Fields]]
    ) -> None:
        """Every tag an expression names must exist (``tags``: the defined ones, with
        errors or not), and calculations must not loop."""
        for name, (expression, fields) in expressions.items():
            node = fields.node_of("expression") or fields.node
            for ref in expression.tags:
                if ref == name or ref not in tags:
                    why = "refers to itself" if ref == name else f"unknown tag {ref!r}"
                    self.ctx.error(node, f"{fields.path}.expression", f"{why} in {{{ref}}}")
        state: dict[str, int] = {}  # 1 = being visited, 2 = done
        for name in expressions:
            if name not in state:
                self._visit(name, [name], expressions, state)

    def _visit(
        self,
        name: str,
        path: list[str],
        expressions: dict[str, tuple[Expression, Fields]],
        state: dict[str, int],
    ) -> None:
        """Report the loops through calculation ``name`` (``path`` leads to it).

        A method, not a closure: a function that calls itself by a name of its scope is a
        reference cycle, and this one held the whole YAML tree until the cycle collector
        came (a third of a second on a 10,000-tag project)."""
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
                self._visit(ref, [*path, ref], expressions, state)
        state[name] = 2

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
            resolved, problem = resolve_file(self.path.parent / file)
            if problem:
                self.ctx.error(f.node_of("file"), f"{field}.file", problem)
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
                check_roles(self.ctx, f, "roles", user_roles, roles)
            if password_hash and not _is_password_hash(password_hash):
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


def _is_password_hash(text: str) -> bool:
    """hmi.core.passwords.is_password_hash, imported only for a project with passwords:
    it loads argon2, which a station starts without (its logins go to the security
    service, started after the first frame)."""
    from hmi.core.passwords import is_password_hash

    return is_password_hash(text)
