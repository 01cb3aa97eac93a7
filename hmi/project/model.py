"""The validated project: plain frozen dataclasses, ready for the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from hmi.core.permissions import Grants
from hmi.core.tag import Tag
from hmi.project.sparkplug_section import SparkplugConfig

DEFAULT_ROLES = ("viewer", "operator", "engineer", "admin")
DEFAULT_POLL_GROUPS = MappingProxyType({"fast": 0.1, "normal": 1.0, "slow": 10.0})
#: a device's ``protocol:``, the name of a protocol plug-in (hmi.project.protocols)
Protocol = str
#: the protocols the loader reads itself (every other one is a plug-in's to read)
MODBUS_PROTOCOLS: tuple[Protocol, ...] = ("modbus-tcp", "modbus-rtu")
PROTOCOLS = MODBUS_PROTOCOLS


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """A field device and how to reach it.

    Timeouts and retries default to SCADA values, not pymodbus' 3 s x 3 retries which stall
    a poll cycle for about 12 s when a device dies.
    """

    name: str
    protocol: Protocol = "modbus-tcp"
    host: str = "127.0.0.1"
    port: int = 502
    unit_id: int = 1
    #: serial line for modbus-rtu, e.g. /dev/ttyUSB0
    serial_port: str = ""
    baudrate: int = 19200
    parity: Literal["N", "E", "O"] = "E"
    stop_bits: int = 1
    timeout: float = 0.5
    retries: int = 1
    #: longest wait between reconnect attempts (exponential backoff with jitter)
    reconnect_max: float = 10.0
    #: how long a write to this device is watched after its read-back (seconds; a tag's
    #: own ``settle`` wins); None: :func:`hmi.core.command.settle_time`'s default
    settle: float | None = None
    enabled: bool = True
    description: str = ""
    #: line of the definition, for later runtime errors that point back into the file
    line: int = 0
    #: a plug-in protocol's own settings (its frozen dataclass; None for Modbus, whose
    #: settings are the fields above)
    settings: object = None

    def link_fields(self) -> tuple[str, ...]:
        """The fields of this Modbus device's connection (:data:`UNIT_FIELDS`,
        :data:`NOT_RTU_FIELDS`): the units of one RTU line must agree on them (the project
        loader checks it), and a change of one needs a new connection (the Modbus plug-in's
        ``same_link``)."""
        return _RTU_LINK_FIELDS if self.protocol == "modbus-rtu" else _LINK_FIELDS

    def link_differences(self, other: DeviceConfig) -> tuple[str, ...]:
        """The fields of :meth:`link_fields` in which ``other`` differs from this device."""
        names = self.link_fields()
        if other.link_fields() != names:
            return ("protocol",)
        return tuple(k for k in names if getattr(self, k) != getattr(other, k))

    def same_link(self, other: DeviceConfig) -> bool:
        """True when ``other`` may share this device's connection (RTU line) as it is."""
        return not self.link_differences(other)


#: a Modbus device's own fields: every other one is its connection's, shared by the units
#: of an RTU line (``enabled``: a disabled unit is just not asked; ``settle``: how long a
#: write to the unit is watched)
UNIT_FIELDS = frozenset({"name", "description", "line", "unit_id", "enabled", "settle"})
#: what an RTU line does not use (its ``serial_port`` says where it goes)
NOT_RTU_FIELDS = frozenset({"host", "port"})
_LINK_FIELDS = tuple(f.name for f in fields(DeviceConfig) if f.name not in UNIT_FIELDS)
_RTU_LINK_FIELDS = tuple(k for k in _LINK_FIELDS if k not in NOT_RTU_FIELDS)


#: the screens the application ships (hmi/screens/ui, the demo plant's tag names): a project
#: keeps them unless it says ``builtin_screens: false``, and may name them in start_screen
BUILTIN_SCREENS = ("overview", "trends", "alarms", "pump", "valve", "pid", "heater")


@dataclass(frozen=True, slots=True)
class ScreenConfig:
    """An operator screen: a Qt Designer ``.ui`` file and its macros."""

    name: str
    file: Path
    title: str = ""
    macros: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class UserConfig:
    """An operator account; the password is stored only as a hash (``hmi passwd``)."""

    name: str
    roles: frozenset[str]
    full_name: str = ""
    password_hash: str = ""


@dataclass(frozen=True, slots=True)
class CurveConfig:
    """The CURVE key files of a plant's bus (ZeroMQ certificates, ``hmi keys generate``).

    Paths are absolute (the loader resolves them against the project's folder).
    """

    #: the broker's public key (``NAME.key``); ``hmi broker`` reads ``NAME.key_secret``
    broker_key: Path
    #: each node's key pair (``NAME.key_secret``); ``{name}`` is the node's name (``--name``)
    node_key: str
    #: the broker's policy: the admitted keys and what each may do (``hmi broker`` only)
    clients: Path | None = None
    #: the line of each field in the project file (of ``curve:`` for one not written), for
    #: errors found when a key is used: ``plant.yaml:28: bus.curve.node_key: ...``
    lines: MappingProxyType[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def node_key_for(self, name: str) -> Path:
        """The key pair file of the node called ``name``."""
        return Path(self.node_key.replace("{name}", name))

    @property
    def broker_secret(self) -> Path:
        """The broker's own key pair file (beside its public key)."""
        return self.broker_key.with_name(self.broker_key.name + "_secret")


@dataclass(frozen=True, slots=True)
class BusConfig:
    """How this project's nodes talk: in one process, or through a broker.

    ``mode: local`` runs a plant in one process (``hmi run`` starts drivers and services
    itself); ``mode: broker`` makes every command join the broker at ``broker`` (or the
    one discovery finds when it is empty and ``discovery`` is on).
    """

    mode: Literal["local", "broker"] = "local"
    #: broker address for nodes, e.g. tcp://127.0.0.1:5570; empty = discovery, then defaults
    broker: str = ""
    #: find the broker by UDP probe when ``broker`` is empty
    discovery: bool = True
    #: seconds between a node's heartbeats (the broker's too, for ``hmi broker PROJECT``)
    heartbeat_interval: float = 1.0
    #: the broker's last-value cache holds at most this many tag values (and topics);
    #: None: the broker's default (``hmi broker --max-cache-entries``)
    max_cache_entries: int | None = None
    #: seconds before the broker forgets a node gone, and the cached values of a publisher
    #: gone that long; None: the broker's default (``hmi broker --forget-after``)
    forget_after: float | None = None
    #: CURVE keys; None: plain TCP (for one machine)
    curve: CurveConfig | None = None
    #: line of the section in the project file, for errors found when it is used
    line: int = 0

    def line_of(self, name: str) -> int:
        """The line of field ``name`` (``curve.node_key``) in the project file, else of
        the section (1 when the project has none)."""
        if self.curve is not None and name.startswith("curve."):
            line = self.curve.lines.get(name.removeprefix("curve."), 0)
            if line:
                return line
        return self.line or 1


@dataclass(frozen=True, slots=True)
class DataConfig:
    """The backend's data disk: when to warn, and the space kept for audit and journal."""

    #: warn below this share of the disk free (percent), or below ``warn_mb``
    warn_percent: float = 10.0
    warn_mb: float = 0.0
    #: the historian stops writing below this share free (or ``history_reserve_mb``), so
    #: the last space goes to the audit trail and the alarm journal
    history_reserve_percent: float = 2.0
    history_reserve_mb: float = 0.0
    #: seconds between two looks at the disk
    interval: float = 30.0


@dataclass(frozen=True, slots=True)
class SystemAlarmsConfig:
    """Alarms the system raises about itself: a device that stops answering, a driver node
    or the backend declared dead by the broker."""

    enabled: bool = True
    #: priority (1 most urgent .. 4) of a device's communication-failure alarm
    device_priority: int = 2
    #: priority of a node declared dead
    node_priority: int = 2
    #: seconds a failure must last before it alarms
    on_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class HistorianConfig:
    """Where and how samples are stored."""

    enabled: bool = True
    path: Path = Path("data/history.sqlite")
    retention_days: float = 30.0
    max_interval: float = 60.0
    flush_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class Project:
    """A whole plant description, validated."""

    name: str
    path: Path
    devices: MappingProxyType[str, DeviceConfig]
    tags: MappingProxyType[str, Tag]
    screens: MappingProxyType[str, ScreenConfig]
    users: MappingProxyType[str, UserConfig]
    roles: tuple[str, ...] = DEFAULT_ROLES
    #: what each role may do (the ``permissions:`` section; defaults for the default roles)
    grants: Grants = field(default_factory=Grants)
    poll_groups: MappingProxyType[str, float] = field(default_factory=lambda: DEFAULT_POLL_GROUPS)
    bus: BusConfig = field(default_factory=BusConfig)
    system_alarms: SystemAlarmsConfig = field(default_factory=SystemAlarmsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    historian: HistorianConfig = field(default_factory=HistorianConfig)
    #: the plant's tags as a Sparkplug B edge node (``sparkplug:``); None: not published
    sparkplug: SparkplugConfig | None = None
    description: str = ""
    #: the screen shown first ("": the built-in home, or the first screen without them)
    start_screen: str = ""
    #: the built-in demo screens stay beside the project's own (``builtin_screens: false``
    #: drops them; a project screen of the same name replaces one)
    builtin_screens: bool = True

    @property
    def folder(self) -> Path:
        """The folder of the project file; relative paths in it are relative to this."""
        return self.path.parent

    def tags_of_device(self, device: str) -> list[Tag]:
        """The tags whose values come from ``device``."""
        return self.tags_by_device().get(device, [])

    def tags_by_device(self) -> dict[str, list[Tag]]:
        """Every device's tags, in the project's order, from one pass over the tags (a
        pass per device was 327,000 steps for a 9,900-tag project of 33 devices)."""
        grouped: dict[str, list[Tag]] = {name: [] for name in self.devices}
        for tag in self.tags.values():
            if tag.source is not None:
                grouped.setdefault(tag.source.device, []).append(tag)
        return grouped
