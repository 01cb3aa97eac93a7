"""The broker's last-value cache of ``tag/`` topics (pure: no sockets, no clock).

Each ``tag/`` topic keeps the latest entry ``[name, value, quality, source_time]`` of every
tag published on it, and which node published it, so a late joiner gets current values at
once and a dead node's tags can be marked for subscribers.

The broker's hot path only appends the still-encoded payload (:meth:`LastValueCache.add`);
batches are decoded, checked and merged in order later, in bulk: when values are asked for
(snapshot, node death, size) or when a topic has :data:`MERGE_AFTER` batches waiting. A
FULL batch makes the waiting ones before it moot (they are never decoded). A payload that
is not a sample batch is left out of the cache and counted in :attr:`LastValueCache.bad`.
"""

from __future__ import annotations

from typing import Any

import msgpack

from hmi.core.quality import Reason

NODE_DEAD = Reason.NODE_DEAD.value
#: encoded batches a topic keeps before they are merged (bounds memory and latency)
MERGE_AFTER = 256

_unpackb = msgpack.unpackb


class _Topic:
    __slots__ = ("entries", "owner", "pending")

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.entries: dict[str, Any] = {}
        #: encoded batches not merged yet, oldest first: (payload, full)
        self.pending: list[tuple[bytes, bool]] = []


def valid_entries(payload: Any) -> bool:
    """True when ``payload`` has the shape of :func:`hmi.bus.samples.encode_samples`."""
    if type(payload) is not list and type(payload) is not tuple:
        return False
    for entry in payload:
        if (
            (type(entry) is not list and type(entry) is not tuple)
            or len(entry) != 4
            or type(entry[0]) is not str
        ):
            return False
    return True


class LastValueCache:
    """Latest sample entries per ``tag/`` topic."""

    def __init__(self) -> None:
        self._topics: dict[str, _Topic] = {}
        #: batches that were not sample batches (bad MessagePack or shape), left out
        self.bad = 0

    def __len__(self) -> int:
        self.merge()
        return sum(len(t.entries) for t in self._topics.values())

    def add(self, topic: str, sender: str, payload: bytes, full: bool = False) -> None:
        """Queue an encoded batch published on ``topic`` (the broker's hot path)."""
        cached = self._topics.get(topic)
        if cached is None:
            cached = self._topics[topic] = _Topic(sender)
        cached.owner = sender
        pending = cached.pending
        if full:
            pending.clear()
        pending.append((payload, full))
        if len(pending) >= MERGE_AFTER:
            self._merge(cached)

    def update(self, topic: str, sender: str, entries: list[list[Any]], full: bool = False) -> None:
        """Merge a decoded batch (``full``: it replaces the topic's entries)."""
        cached = self._topics.get(topic)
        if cached is None:
            cached = self._topics[topic] = _Topic(sender)
        self._merge(cached)
        cached.owner = sender
        if full:
            cached.entries = {}
        store = cached.entries
        for entry in entries:
            store[entry[0]] = entry

    def _merge(self, cached: _Topic) -> None:
        pending = cached.pending
        if not pending:
            return
        cached.pending = []
        store = cached.entries
        for payload, full in pending:
            try:
                entries = _unpackb(payload, use_list=False)
            except Exception:  # msgpack raises several types for garbage
                self.bad += 1
                continue
            if not valid_entries(entries):
                self.bad += 1
                continue
            if full:
                store = cached.entries = {}
            for entry in entries:
                store[entry[0]] = entry

    def merge(self) -> None:
        """Merge every waiting batch."""
        for cached in self._topics.values():
            if cached.pending:
                self._merge(cached)

    def snapshot(self, prefix: str) -> list[tuple[str, list[Any]]]:
        """``(topic, entries)`` of every cached topic starting with ``prefix``."""
        out = []
        for topic, cached in self._topics.items():
            if topic.startswith(prefix):
                self._merge(cached)
                if cached.entries:
                    out.append((topic, list(cached.entries.values())))
        return out

    def degrade(self, sender: str, detail: str) -> list[tuple[str, list[list[Any]]]]:
        """Mark every tag published by ``sender`` UNCERTAIN (node dead), keeping values.

        Returns the changed ``(topic, entries)`` to publish; tags already BAD stay BAD.
        """
        changed = []
        for topic, cached in self._topics.items():
            if cached.owner != sender:
                continue
            self._merge(cached)
            entries = []
            for name, entry in cached.entries.items():
                quality = entry[2]
                severity = (
                    quality[0]
                    if (type(quality) is list or type(quality) is tuple)
                    and quality
                    and type(quality[0]) is int
                    else 0
                )
                new = [name, entry[1], [max(1, severity), NODE_DEAD, detail], entry[3]]
                cached.entries[name] = new
                entries.append(new)
            changed.append((topic, entries))
        return changed
