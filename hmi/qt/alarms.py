"""Alarms as the GUI sees them, and a placeholder source until the alarm engine lands.

:class:`LimitAlarms` judges each tag's alarm limits from the store's current values: no
delays, deadbands or shelving, acknowledgement kept in memory. The alarm service will
replace it behind the same two calls (:meth:`active`, :meth:`acknowledge`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hmi.core.tagstore import TagStore
from hmi.qt.look import alarm_priority


@dataclass(frozen=True, slots=True)
class AlarmItem:
    """One active alarm: its priority (1 most urgent), tag, message and since when."""

    priority: int
    tag: str
    message: str
    time: float
    acknowledged: bool = False


class AlarmSource(Protocol):
    """What alarm widgets read."""

    def tag_names(self) -> list[str]:
        """The tags whose changes may change the alarm list."""
        ...

    def active(self) -> list[AlarmItem]:
        """Active alarms, most important first (unacknowledged, priority, newest)."""
        ...

    def acknowledge(self, tag: str) -> None:
        """Acknowledge the alarm of ``tag``."""
        ...


class LimitAlarms:
    """Placeholder alarm source: a tag is in alarm while its value is beyond a limit."""

    def __init__(self, store: TagStore) -> None:
        self.store = store
        self._since: dict[str, float] = {}
        self._acked: set[str] = set()

    def tag_names(self) -> list[str]:
        """Tags with an alarm definition."""
        return [name for name, tag in self.store.tags.items() if tag.alarms is not None]

    def active(self) -> list[AlarmItem]:
        """Alarms active now, most important first."""
        items = []
        for name in self.tag_names():
            tag = self.store.tag(name)
            sample = self.store.get(name)
            priority = alarm_priority(tag, sample)
            if not priority or tag is None or tag.alarms is None:
                self._since.pop(name, None)
                self._acked.discard(name)
                continue
            since = self._since.setdefault(name, sample.source_time)
            message = tag.alarms.message or tag.description or name
            items.append(AlarmItem(priority, name, message, since, name in self._acked))
        items.sort(key=lambda a: (a.acknowledged, a.priority, -a.time))
        return items

    def acknowledge(self, tag: str) -> None:
        """Acknowledge (in memory only)."""
        if tag in self._since:
            self._acked.add(tag)
