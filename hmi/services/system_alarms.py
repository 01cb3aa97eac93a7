"""Alarms the system raises about itself: a device that stops answering, a node that dies.

Without them a PLC that stops answering turns every value BAD and the banner still says
"No active alarms". They are ordinary discrete alarms of the alarm engine (an
:class:`~hmi.core.alarms.Alarm` with ``state: true``), so acknowledge, shelve, journal,
KPIs and restore after a restart work for them as for any tag's alarm:

- ``system/<device>/comm``, one per enabled device of the project: active while the
  device's status on ``$sys/device/<device>`` says ``not connected or not communicating``
  (a missing ``communicating`` counts as true); its value is the device's last error.
- ``system/<node>/node``, created when the broker declares dead (``$sys/node/<id>/dead``)
  a node that served RPC targets (a driver node, the backend; not an operator station, nor
  the engine's own node); cleared when a node of that name is alive again (its
  ``$sys/node/<id>/alive``, or the broker's ``$sys/stats`` listing it alive).
- the backend's storage (:data:`STORES`, fed from :class:`~hmi.services.health.
  StoreHealth`): ``system/audit/storage``, ``system/journal/storage``,
  ``system/history/storage``, ``system/history/loss``, ``system/sessions/storage`` and
  ``system/data/disk``; active while the store fails (its value the error), the history
  loss while rows are being lost, the disk while the data folder's disk is nearly full.

The services never import the drivers (sibling layers): only the topics and the shape of
their payloads connect them, read here defensively (:class:`MalformedPayload`). Everything
here is pure: no bus, no clock; the engine passes ``now`` and feeds the samples.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hmi.bus.wire.samples import MalformedPayload
from hmi.core.alarms import Alarm, AlarmStatus
from hmi.core.quality import GOOD
from hmi.core.sample import Sample
from hmi.core.tag import AlarmLimits
from hmi.project.model import SystemAlarmsConfig
from hmi.services import health

DEVICE_TOPIC = "$sys/device/"
NODE_TOPIC = "$sys/node/"
STATS_TOPIC = "$sys/stats"
#: what the engine subscribes to when system alarms are enabled
PATTERNS = (DEVICE_TOPIC + "#", NODE_TOPIC + "#", STATS_TOPIC)

#: the value a device's alarm shows while the device answers
DEVICE_OK = "ok"
#: the value a node's alarm shows once a node of its name is alive
NODE_OK = "alive"

#: the value a storage alarm shows once its store works again
STORE_OK = "ok"


@dataclass(frozen=True, slots=True)
class StoreAlarm:
    """The system alarm of one item of :class:`~hmi.services.health.StoreHealth`."""

    key: str
    message: str
    priority: int


#: health item -> its alarm. A store that refuses actions is priority 1 (operators cannot
#: acknowledge or write until it is fixed); lost or delayed records 2; the disk warning 3.
STORES: Mapping[str, StoreAlarm] = {
    health.AUDIT: StoreAlarm(
        "system/audit/storage",
        "audit trail cannot be stored: writes and alarm requests are refused",
        1,
    ),
    health.JOURNAL: StoreAlarm(
        "system/journal/storage", "alarm journal cannot be stored: alarm requests are refused", 1
    ),
    health.HISTORY: StoreAlarm(
        "system/history/storage", "history cannot be stored: samples wait in memory", 2
    ),
    health.HISTORY_LOSS: StoreAlarm("system/history/loss", "history samples lost", 2),
    health.SESSIONS: StoreAlarm(
        "system/sessions/storage",
        "logouts and disabled users cannot be saved: kept in memory only",
        2,
    ),
    health.DISK: StoreAlarm("system/data/disk", "data disk nearly full", 3),
}

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_NODE_KEY = re.compile(r"^system/[A-Za-z0-9_.\-]+/node$")


def sanitize(name: str) -> str:
    """``name`` as one segment of a tag name: characters outside ``[A-Za-z0-9_.-]`` -> ``_``."""
    return _UNSAFE.sub("_", name) or "_"


def device_key(name: str) -> str:
    """The communication alarm of device ``name``: ``system/<name>/comm``."""
    return f"system/{sanitize(name)}/comm"


def node_key(name: str) -> str:
    """The alarm of node ``name`` declared dead: ``system/<name>/node``."""
    return f"system/{sanitize(name)}/node"


def device_keys(names: Iterable[str]) -> dict[str, str]:
    """Device name -> its alarm key, distinct for distinct names.

    Two names that sanitize alike (``plc 1``, ``plc/1``) would share one alarm; a name that
    had to be changed and meets another gets a short hash of itself, so each key depends
    only on the names present, never on their order (a key must stay the same from one
    start to the next: the journal restores acknowledgements and shelving by it).
    """
    unique = list(dict.fromkeys(names))
    plain = {name: sanitize(name) for name in unique}
    count = Counter(plain.values())
    keys = {}
    for name in unique:
        segment = plain[name]
        if count[segment] > 1 and segment != name:
            segment += "-" + hashlib.sha1(name.encode()).hexdigest()[:6]
        keys[name] = f"system/{segment}/comm"
    return keys


# -- payloads -> samples (pure) -------------------------------------------------------------
def device_sample(payload: Any, now: float) -> tuple[str, Sample, str] | None:
    """``(device, sample, shown)`` from a ``$sys/device/<name>`` payload.

    The payload is :meth:`hmi.drivers.status.DeviceStatus.to_dict`: ``device``,
    ``connected``, ``last_error``, and ``communicating`` (absent from older drivers: true).
    The sample's value is True while the device fails; ``shown`` is what its alarm shows:
    the last error while it fails, :data:`DEVICE_OK` while it answers (an older driver
    keeps its last error after recovery, so it is not shown then).

    None when the status does not tell yet: not communicating *without an error* is a
    driver that has not asked the device yet (the status right after it connects, at
    start), not a failure; a failure always comes with its error. Raises
    :class:`MalformedPayload` for a payload of the wrong shape.
    """
    if not isinstance(payload, dict):
        raise MalformedPayload(f"device status is not a map: {type(payload).__name__}")
    device = payload.get("device")
    if not isinstance(device, str) or not device:
        raise MalformedPayload("device status without a device name")
    connected = payload.get("connected")
    communicating = payload.get("communicating", True)
    if communicating is None:
        communicating = True
    error = payload.get("last_error") or ""
    if type(connected) is not bool or type(communicating) is not bool:
        raise MalformedPayload(f"device status of {device!r}: connected/communicating not bool")
    if not isinstance(error, str):
        raise MalformedPayload(f"device status of {device!r}: last_error is not text")
    failed = not connected or not communicating
    if failed and not error:
        return None
    return device, Sample(failed, GOOD, now, now), error if failed else DEVICE_OK


@dataclass(frozen=True, slots=True)
class NodeEvent:
    """A broker's ``$sys/node/<id>/dead`` or ``/alive``, as far as the payload tells."""

    id: str
    dead: bool
    #: the node's name; empty when the payload does not say
    name: str = ""
    host: str = ""
    #: why it is dead (``silent``, ``stopped``); empty for alive
    why: str = ""
    #: the RPC targets it served; None when the payload does not say
    targets: tuple[str, ...] | None = None


def node_event(topic: str, payload: Any) -> NodeEvent | None:
    """The event on ``topic`` (None: not a dead/alive topic); raises :class:`MalformedPayload`."""
    rest = topic[len(NODE_TOPIC) :] if topic.startswith(NODE_TOPIC) else ""
    node_id, _, kind = rest.rpartition("/")
    if not node_id or kind not in ("dead", "alive"):
        return None
    if not isinstance(payload, dict):
        raise MalformedPayload(f"{topic}: not a map")
    fields = {key: payload.get(key) or "" for key in ("name", "host", "why")}
    if not all(isinstance(v, str) for v in fields.values()):
        raise MalformedPayload(f"{topic}: name, host and why must be text")
    targets = payload.get("targets")
    if targets is not None and (
        not isinstance(targets, list) or not all(isinstance(t, str) for t in targets)
    ):
        raise MalformedPayload(f"{topic}: targets must be a list of names")
    return NodeEvent(
        node_id,
        kind == "dead",
        fields["name"],
        fields["host"],
        fields["why"],
        None if targets is None else tuple(targets),
    )


def node_sample(event: NodeEvent, now: float) -> tuple[Sample, str]:
    """``(sample, shown)`` for a node's alarm: True and why while dead, else alive."""
    if event.dead:
        return Sample(True, GOOD, now, now), event.why or "dead"
    return Sample(False, GOOD, now, now), NODE_OK


def alive_in_stats(payload: Any) -> set[str]:
    """The names (ids of nodes without one) listed alive in a ``$sys/stats`` payload."""
    if not isinstance(payload, dict) or not isinstance(payload.get("nodes"), list):
        raise MalformedPayload("$sys/stats without a list of nodes")
    alive = set()
    for node in payload["nodes"]:
        if not isinstance(node, dict):
            raise MalformedPayload("$sys/stats: a node is not a map")
        name = node.get("name") or node.get("id")
        if node.get("alive") is True and isinstance(name, str) and name:
            alive.add(name)
    return alive


# -- the engine's system alarms ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reading:
    """Feed ``sample`` (value True while failed) to alarm ``key``, showing ``shown``."""

    key: str
    sample: Sample
    shown: str
    #: the alarm to create if the engine has none of that key yet (a node's); None: do not
    limits: AlarmLimits | None = None


class SystemAlarms:
    """Which system alarms an engine has and what each bus event means for them.

    ``taken`` are the keys of the project's own tag alarms: a tag named like a system
    alarm keeps its alarm, and no system alarm is made in its place.
    """

    def __init__(
        self,
        config: SystemAlarmsConfig | None,
        devices: Iterable[str] = (),
        *,
        taken: Collection[str] = (),
        stores: Iterable[str] = (),
    ) -> None:
        self.config = config or SystemAlarmsConfig(enabled=False)
        self.enabled = self.config.enabled
        self._taken = frozenset(taken)
        #: device name -> its alarm key
        self.devices = {
            name: key
            for name, key in device_keys(devices if self.enabled else ()).items()
            if key not in self._taken
        }
        #: health item -> its storage alarm (the items of the backend's StoreHealth)
        self.stores = {
            item: STORES[item]
            for item in (stores if self.enabled else ())
            if item in STORES and STORES[item].key not in self._taken
        }
        #: every key of a system alarm the engine has (devices', stores', nodes' once made)
        self.keys = set(self.devices.values()) | {a.key for a in self.stores.values()}
        #: node id -> what its alive event told (a dead event may lack name, host, targets)
        self._nodes: dict[str, NodeEvent] = {}

    @property
    def patterns(self) -> tuple[str, ...]:
        """The topics the engine subscribes to for these alarms (none when disabled)."""
        return PATTERNS if self.enabled else ()

    def device_alarms(self) -> dict[str, Alarm]:
        """One alarm per device, built at start (normal until a status says otherwise)."""
        return {
            key: Alarm(
                key,
                AlarmLimits(
                    state=True,
                    priority=self.config.device_priority,
                    on_delay=self.config.on_delay,
                    message=f"{name}: no communication",
                ),
            )
            for name, key in self.devices.items()
        }

    def store_alarms(self) -> dict[str, Alarm]:
        """One alarm per storage item, built at start (normal until a store fails).

        No on-delay: a failing audit or journal store refuses requests at once, and the
        operator who is refused must find the alarm that says why.
        """
        return {
            alarm.key: Alarm(
                alarm.key, AlarmLimits(state=True, priority=alarm.priority, message=alarm.message)
            )
            for alarm in self.stores.values()
        }

    def store_reading(self, item: str, problem: str | None, now: float) -> Reading | None:
        """The reading of storage item ``item`` with ``problem`` (None: it works), or None
        when the engine has no alarm for it."""
        alarm = self.stores.get(item)
        if alarm is None:
            return None
        failed = problem is not None
        return Reading(alarm.key, Sample(failed, GOOD, now, now), problem or STORE_OK)

    def node_limits(self, message: str) -> AlarmLimits:
        """The definition of a node's alarm."""
        return AlarmLimits(
            state=True,
            priority=self.config.node_priority,
            on_delay=self.config.on_delay,
            message=message,
        )

    def read(
        self,
        topic: str,
        payload: Any,
        now: float,
        *,
        own_id: str | None = None,
        own_targets: Collection[str] = (),
    ) -> list[Reading]:
        """What one ``$sys/`` message means for the system alarms (maybe nothing).

        ``own_id`` and ``own_targets`` are the engine's node id and the RPC targets its
        bus serves: the engine does not alarm about its own node (it may only have paused).
        Raises :class:`MalformedPayload` for a payload of the wrong shape.
        """
        if not self.enabled:
            return []
        if topic.startswith(DEVICE_TOPIC):
            judged = device_sample(payload, now)
            if judged is None:
                return []
            device, sample, shown = judged
            key = self.devices.get(device)
            # A device this project does not define (added at runtime over RPC): no alarm.
            return [] if key is None else [Reading(key, sample, shown)]
        if topic == STATS_TOPIC:
            alive = {node_key(name) for name in alive_in_stats(payload)}
            return [
                Reading(key, Sample(False, GOOD, now, now), NODE_OK)
                for key in sorted(alive & self.keys)
            ]
        event = node_event(topic, payload)
        if event is None:
            return []
        return self._node(event, now, own_id, set(own_targets))

    def _node(
        self, event: NodeEvent, now: float, own_id: str | None, own_targets: set[str]
    ) -> list[Reading]:
        known = self._nodes.pop(event.id, None)
        if not event.dead:
            self._nodes[event.id] = event
        name = event.name or (known.name if known else "") or event.id
        key = node_key(name)
        if key in self._taken:
            return []
        sample, shown = node_sample(event, now)
        if not event.dead:
            return [Reading(key, sample, shown)] if key in self.keys else []
        targets = event.targets
        if targets is None and known is not None:
            targets = known.targets
        # A station serves no targets: closing it is no alarm. The engine's own node can
        # only be "dead" if it paused, and it is about to be heard again.
        if not targets or event.id == own_id or not own_targets.isdisjoint(targets):
            return []
        host = event.host or (known.host if known else "")
        where = f" on {host}" if host else ""
        self.keys.add(key)
        limits = self.node_limits(f"node {name}{where} declared dead by the broker")
        return [Reading(key, sample, shown, limits)]

    def restore(
        self, statuses: Mapping[str, AlarmStatus], now: float
    ) -> tuple[dict[str, Alarm], list[Reading]]:
        """Node alarms standing when the engine stopped, from the journal's last statuses.

        A device alarm exists from the project anyway; a node's exists only once its node
        died, so it is made again here when it was active, shelved or out of service (the
        engine then restores those as for any alarm). An active one is fed active again: the
        broker does not repeat a death, and a restart must not hide a dead driver node; if
        the node came back meanwhile, the next ``$sys/stats`` clears it.
        """
        alarms: dict[str, Alarm] = {}
        readings: list[Reading] = []
        if not self.enabled:
            return alarms, readings
        for key, status in statuses.items():
            if not _NODE_KEY.match(key) or key in self._taken:
                continue
            if not (status.active or status.shelved or status.out_of_service):
                continue
            alarms[key] = Alarm(key, self.node_limits(status.message))
            self.keys.add(key)
            if status.active:
                why = status.value if isinstance(status.value, str) else "dead"
                readings.append(Reading(key, Sample(True, GOOD, now, now), why))
        return alarms, readings
