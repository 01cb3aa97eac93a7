"""The small sections of a project file: ``bus``, ``system_alarms`` and ``historian``.

Each reader takes the top-level :class:`Fields`, records every problem in its context
(file, line, field) and returns the section's dataclass, or None when it is unusable.
"""

from __future__ import annotations

import re
from pathlib import Path

from hmi.core.permissions import Grants, parse_grants
from hmi.project.fields import Fields
from hmi.project.model import (
    BusConfig,
    CurveConfig,
    DataConfig,
    HistorianConfig,
    SystemAlarmsConfig,
)
from hmi.project.paths import safe_resolve

#: what a broker address looks like (hmi.bus.wire.address parses it; the project may not import
#: the bus, so the shape is checked here and the details where it is used)
_ADDRESS = re.compile(r"^(tcp://[^\s:/]+:\d{1,5}|ipc://\S+)$")
#: seconds, as the bus accepts them
_MAX_HEARTBEAT = 3600.0
#: the broker's bounds a project may set (a cache of 100 M values would not be a bound)
_MAX_CACHE_ENTRIES = 100_000_000
_MAX_FORGET = 366 * 86400.0
#: an optional field that is absent (None means "unusable" to the readers of Fields)
_UNSET = object()


def read_bus(top: Fields, folder: Path) -> BusConfig | None:
    """The ``bus`` section; key file paths are made absolute against ``folder``."""
    section = top.mapping("bus")
    if section is None:
        return BusConfig()
    mode = section.choice("mode", ("local", "broker"), "local")
    broker = section.text("broker", "")
    if broker and not _ADDRESS.match(broker):
        section.ctx.error(
            section.node_of("broker"),
            f"{section.path}.broker",
            f"expected tcp://HOST:PORT or ipc://PATH, found {broker!r}",
        )
        broker = None
    discovery = section.boolean("discovery", True)
    heartbeat = section.number("heartbeat_interval", 1.0)
    if heartbeat is not None and not 0.05 <= heartbeat <= _MAX_HEARTBEAT:
        section.ctx.error(
            section.node_of("heartbeat_interval"),
            f"{section.path}.heartbeat_interval",
            f"expected seconds in 0.05..{_MAX_HEARTBEAT:g}, found {heartbeat:g}",
        )
        heartbeat = None
    bounds = _read_bounds(section)
    curve = _read_curve(section, folder)
    section.finish()
    values = (mode, broker, discovery, heartbeat, curve, bounds)
    if any(v is None for v in values) or curve is False or bounds is None:
        return None
    return BusConfig(
        mode=mode,
        broker=broker,
        discovery=discovery,
        heartbeat_interval=heartbeat,
        max_cache_entries=bounds[0],
        forget_after=bounds[1],
        curve=curve if isinstance(curve, CurveConfig) else None,
        line=top.line_of("bus"),
    )


def _read_bounds(section: Fields) -> tuple[int | None, float | None] | None:
    """``bus.max_cache_entries`` and ``bus.forget_after``, the broker's memory bounds
    (docs/bus-protocol.md, "Bounds"; absent: the broker's defaults); None when unusable."""
    entries = section.integer("max_cache_entries", _UNSET, 1, _MAX_CACHE_ENTRIES)
    forget = section.number("forget_after", _UNSET)
    if forget is not None and forget is not _UNSET and not 0 < forget <= _MAX_FORGET:
        section.ctx.error(
            section.node_of("forget_after"),
            f"{section.path}.forget_after",
            f"expected seconds above 0, at most {_MAX_FORGET:.0f} (a year), found {forget:g}",
        )
        forget = None
    if entries is None or forget is None:
        return None
    return (
        None if entries is _UNSET else entries,
        None if forget is _UNSET else forget,
    )


def _read_curve(section: Fields, folder: Path) -> CurveConfig | bool | None:
    """``bus.curve``: absent -> True (plain TCP), unusable -> False."""
    curve = section.mapping("curve")
    if curve is None:
        return not section.has("curve")
    broker_key = curve.text("broker_key")
    node_key = curve.text("node_key", "keys/{name}.key_secret")
    clients = curve.text("clients", "")
    curve.finish()
    if broker_key is None or node_key is None or clients is None:
        return False
    if not broker_key.endswith(".key"):
        curve.ctx.error(
            curve.node_of("broker_key"),
            f"{curve.path}.broker_key",
            "expected the broker's public key file NAME.key (hmi keys generate broker)",
        )
        return False
    if not node_key.endswith(".key_secret"):
        curve.ctx.error(
            curve.node_of("node_key"),
            f"{curve.path}.node_key",
            "expected a key pair file NAME.key_secret ({name} stands for the node's name)",
        )
        return False
    broker_path, problem = safe_resolve(folder / broker_key)
    clients_path, clients_problem = safe_resolve(folder / clients) if clients else (None, "")
    for key, why in (("broker_key", problem), ("clients", clients_problem)):
        if why:
            curve.ctx.error(curve.node_of(key), f"{curve.path}.{key}", why)
    if problem or clients_problem:
        return False
    return CurveConfig(
        broker_key=broker_path, node_key=str(folder / node_key), clients=clients_path
    )


def read_system_alarms(top: Fields) -> SystemAlarmsConfig | None:
    """The ``system_alarms`` section."""
    section = top.mapping("system_alarms")
    if section is None:
        return SystemAlarmsConfig()
    config = (
        section.boolean("enabled", True),
        section.integer("device_priority", 2, 1, 4),
        section.integer("node_priority", 2, 1, 4),
        section.number("on_delay", 0.0),
    )
    section.finish()
    if any(v is None for v in config):
        return None
    enabled, device_priority, node_priority, on_delay = config
    if on_delay < 0:
        section.ctx.error(
            section.node_of("on_delay"), f"{section.path}.on_delay", "must not be negative"
        )
        return None
    return SystemAlarmsConfig(enabled, device_priority, node_priority, on_delay)


def read_historian(top: Fields) -> HistorianConfig | None:
    """The ``historian`` section."""
    section = top.mapping("historian")
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


def read_permissions(top: Fields, roles: tuple[str, ...]) -> Grants | None:
    """The ``permissions`` section: role -> list of permissions (hmi.core.permissions)."""
    section = top.mapping("permissions")
    if section is None:
        return parse_grants({}, roles)[0]
    listed: dict[str, list[str]] = {}
    for key_node, _ in section.node.value:
        role = str(key_node.value)
        names = section.text_list(role)
        if names is None:
            return None
        listed[role] = names
    section.finish()
    grants, problems = parse_grants(listed, roles)
    for role, message in problems:
        section.ctx.error(section.node_of(role), f"{section.path}.{role}", message)
    return None if problems else grants


def read_data(top: Fields) -> DataConfig | None:
    """The ``data`` section: thresholds of the backend's data disk."""
    section = top.mapping("data")
    if section is None:
        return DataConfig()
    default = DataConfig()
    values = {}
    for name in ("warn_percent", "warn_mb", "history_reserve_percent", "history_reserve_mb"):
        value = section.number(name, getattr(default, name))
        if value is not None and not 0 <= value <= (100 if name.endswith("percent") else 1e9):
            section.ctx.error(section.node_of(name), f"{section.path}.{name}", "out of range")
            value = None
        values[name] = value
    interval = section.number("interval", default.interval)
    if interval is not None and not 1 <= interval <= 3600:
        section.ctx.error(
            section.node_of("interval"), f"{section.path}.interval", "expected 1..3600 seconds"
        )
        interval = None
    section.finish()
    if interval is None or any(v is None for v in values.values()):
        return None
    return DataConfig(interval=interval, **values)
