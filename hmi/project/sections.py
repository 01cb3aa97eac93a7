"""The small sections of a project file: ``bus``, ``system_alarms`` and ``historian``.

Each reader takes the top-level :class:`Fields`, records every problem in its context
(file, line, field) and returns the section's dataclass, or None when it is unusable.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType

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
    lines = {key: curve.line_of(key) for key in ("broker_key", "node_key", "clients")}
    return CurveConfig(
        broker_key=broker_path,
        node_key=str(folder / node_key),
        clients=clients_path,
        lines=MappingProxyType(lines),
    )


def read_system_alarms(top: Fields) -> SystemAlarmsConfig | None:
    """The ``system_alarms`` section."""
    section = top.mapping("system_alarms")
    if section is None:
        return SystemAlarmsConfig()
    on_delay = section.number("on_delay", 0.0)
    if on_delay is not None and on_delay < 0:  # checked with the others: every error at once
        section.invalid("on_delay", f"expected 0 or more seconds, found {on_delay:g}")
        on_delay = None
    config = (
        section.boolean("enabled", True),
        section.integer("device_priority", 2, 1, 4),
        section.integer("node_priority", 2, 1, 4),
        on_delay,
    )
    section.finish()
    if any(v is None for v in config):
        return None
    enabled, device_priority, node_priority, on_delay = config
    return SystemAlarmsConfig(enabled, device_priority, node_priority, on_delay)


#: The historian's numbers a project may set: (field, unit, low, high, low allowed), checked
#: where the file is read (``flush_interval: 0`` made the historian write in a busy loop,
#: ~30,000 rows/s from 7 tags, until the disk was full; a negative ``max_interval`` stored
#: every sample).
_HISTORIAN_BOUNDS = (
    # At most 10 writes a second (each is a transaction and a WAL commit, and runs the
    # heartbeat), at most a minute of rows waiting in memory (what a killed process loses;
    # also the longest pause between attempts at a failing store, historian.MAX_BACKOFF).
    ("flush_interval", "seconds", 0.1, 60.0, True),
    # The heartbeat stores every tag at least every max_interval: more often than once a
    # second is periodic sampling, not storing on change. A silence shorter than
    # max_interval (plus two flushes) is not drawn as a gap (docs/historian.md, "Unchanged
    # or not recorded"): at most a day, or a stopped historian looks like a held value.
    ("max_interval", "seconds", 1.0, 86_400.0, True),
    # Above 0: 0 would delete every row at each hourly purge (`enabled: false` is how to
    # store nothing). A century keeps everything for a plant's life; more is a slip.
    ("retention_days", "days", 0.0, 36_525.0, False),
)


def read_historian(top: Fields) -> HistorianConfig | None:
    """The ``historian`` section, its numbers within :data:`_HISTORIAN_BOUNDS`."""
    section = top.mapping("historian")
    if section is None:
        return HistorianConfig()
    default = HistorianConfig()
    enabled = section.boolean("enabled", default.enabled)
    path = section.text("path", str(default.path))
    numbers = {}
    for name, unit, low, high, low_ok in _HISTORIAN_BOUNDS:
        value = section.number(name, getattr(default, name))
        if value is not None and not (low <= value <= high and (low_ok or value > low)):
            span = f"in {low:g}..{high:g}" if low_ok else f"above {low:g}, at most {high:g}"
            section.invalid(name, f"expected {unit} {span}, found {value:g}")
            value = None
        numbers[name] = value
    section.finish()
    if enabled is None or path is None or any(v is None for v in numbers.values()):
        return None
    return HistorianConfig(enabled=enabled, path=Path(path) if path else default.path, **numbers)


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
