"""The broker's last-value cache of ``tag/`` topics (pure: no sockets, no clock).

Each ``tag/`` topic keeps the latest entry ``[name, value, quality, source_time]`` of every
tag published on it, and which node published it, so a late joiner gets current values at
once and a dead node's tags can be marked for subscribers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hmi.core.quality import Reason

NODE_DEAD = Reason.NODE_DEAD.value


@dataclass
class _Topic:
    owner: str
    entries: dict[str, list[Any]] = field(default_factory=dict)


def valid_entries(payload: Any) -> bool:
    """True when ``payload`` has the shape of :func:`hmi.bus.samples.encode_samples`."""
    if type(payload) is not list:
        return False
    for entry in payload:
        if type(entry) is not list or len(entry) != 4 or type(entry[0]) is not str:
            return False
    return True


class LastValueCache:
    """Latest sample entries per ``tag/`` topic."""

    def __init__(self) -> None:
        self._topics: dict[str, _Topic] = {}

    def __len__(self) -> int:
        return sum(len(t.entries) for t in self._topics.values())

    def update(self, topic: str, sender: str, entries: list[list[Any]], full: bool = False) -> None:
        """Merge a published batch (``full``: it replaces the topic's entries)."""
        cached = self._topics.get(topic)
        if cached is None or full:
            cached = self._topics[topic] = _Topic(sender)
        cached.owner = sender
        store = cached.entries
        for entry in entries:
            store[entry[0]] = entry

    def snapshot(self, prefix: str) -> list[tuple[str, list[list[Any]]]]:
        """``(topic, entries)`` of every cached topic starting with ``prefix``."""
        return [
            (topic, list(cached.entries.values()))
            for topic, cached in self._topics.items()
            if topic.startswith(prefix)
        ]

    def degrade(self, sender: str, detail: str) -> list[tuple[str, list[list[Any]]]]:
        """Mark every tag published by ``sender`` UNCERTAIN (node dead), keeping values.

        Returns the changed ``(topic, entries)`` to publish; tags already BAD stay BAD.
        """
        changed = []
        for topic, cached in self._topics.items():
            if cached.owner != sender:
                continue
            entries = []
            for name, entry in cached.entries.items():
                quality = entry[2]
                severity = quality[0] if type(quality) is list and quality else 0
                new = [name, entry[1], [max(1, severity), NODE_DEAD, detail], entry[3]]
                cached.entries[name] = new
                entries.append(new)
            changed.append((topic, entries))
        return changed
