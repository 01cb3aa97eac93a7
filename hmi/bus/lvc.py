"""The broker's last-value cache of ``tag/`` topics (pure: no sockets, no clock).

Each ``tag/`` topic keeps the latest entry ``[name, value, quality, source_time]`` of every
tag published on it, and which node published it, so a late joiner gets current values at
once and a dead node's tags can be marked for subscribers.

The broker's hot path only appends the still-encoded payloads (:meth:`LastValueCache.extend`);
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
        self.pending: list[tuple[bytes, int]] = []


class LastValueCache:
    """Latest sample entries per ``tag/`` topic."""

    def __init__(self) -> None:
        self._topics: dict[str, _Topic] = {}
        #: batches that were not sample batches (bad MessagePack or shape), left out
        self.bad = 0

    def __len__(self) -> int:
        self.merge()
        return sum(len(t.entries) for t in self._topics.values())

    def add(self, topic: str, sender: str, payload: bytes, full: int = 0) -> None:
        """Queue an encoded batch published on ``topic`` by ``sender``; ``full`` (true: the
        batch holds every tag of the topic) may be any truth value."""
        self.extend(topic, sender, [(payload, full)])

    def extend(self, topic: str, sender: str, batches: list[tuple[bytes, int]]) -> None:
        """Queue encoded ``(payload, full)`` batches of ``topic``, oldest first, the last
        one published by ``sender`` (the broker's hot path: one call per topic and read)."""
        cached = self._topics.get(topic)
        if cached is None:
            cached = self._topics[topic] = _Topic(sender)
        cached.owner = sender
        pending = cached.pending
        pending += batches
        if len(pending) >= MERGE_AFTER:
            self._merge(cached)

    def _merge(self, cached: _Topic) -> None:
        pending = cached.pending
        if not pending:
            return
        cached.pending = []
        # Newest first, down to the last FULL batch: the ones before it are moot (never
        # decoded). Decoded batches are applied oldest first.
        decoded = []
        full = False
        for payload, full_flag in reversed(pending):
            try:
                entries = _unpackb(payload, use_list=False)
            except Exception:  # msgpack raises several types for garbage
                self.bad += 1
                continue
            if type(entries) is not tuple:
                self.bad += 1
                continue
            for entry in entries:
                if type(entry) is not tuple or len(entry) != 4 or type(entry[0]) is not str:
                    self.bad += 1
                    break
            else:
                decoded.append(entries)
                if full_flag:
                    full = True
                    break
        store = cached.entries = {} if full else cached.entries
        for entries in reversed(decoded):
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
