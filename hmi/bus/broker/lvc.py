"""The broker's last-value cache of ``tag/`` topics (pure: no sockets, no clock).

Each ``tag/`` topic keeps the latest entry ``[name, value, quality, source_time]`` of every
tag published on it, and which node published it, so a late joiner gets current values at
once and a dead node's tags can be marked for subscribers.

The broker's hot path only appends the still-encoded payloads (:meth:`LastValueCache.extend`);
batches are checked and merged in order later, in bulk: when values are asked for
(snapshot, node death, size) or when a topic has :data:`MERGE_AFTER` batches waiting. They
are merged newest first, and a batch whose every tag a newer one sets again is moot: its
values never reach the cache. Two kinds are found without decoding them:

- those before a FULL batch (it holds every tag of the topic);
- those with the *layout* of a newer batch that is decoded: the same bytes except the data
  bytes of numbers (MessagePack float and fixed-width int: the 8 bytes after ``0xcb``,
  ...). Any bytes there are a valid number, so such a batch decodes to the same names in
  the same order, with the same qualities, only other numbers: the newer batch sets every
  one of its tags again. A driver that publishes the same tags every scan sends one
  layout (a topic remembers its last :data:`KEEP_LAYOUTS`, so an odd batch, e.g. with a
  quality change, does not hide the usual one). Comparing is one big-integer OR and
  compare: merging a 100-sample batch costs ~2.8 us instead of ~24 us (decode and check;
  measured on the benchmark's batches), a 1-sample one 0.37 instead of 0.57 us.

A payload that is not a sample batch is left out of the cache and counted in
:attr:`LastValueCache.bad`.

Memory is bounded (docs/bus-protocol.md, "Bounds"): the cache holds at most
``max_entries`` tag entries, and at most as many topics; beyond that a new topic or a new
tag is not cached (counted in :attr:`LastValueCache.refused`), while those cached go on
taking their new values. The topics of a publisher that is gone are forgotten
(:meth:`LastValueCache.forget_gone`): the broker says which publishers live, and the
cache knows when each last published. Encoded batches wait to be merged for at most
:data:`MERGE_AFTER` batches or :data:`MERGE_BYTES` per topic, and :data:`MAX_PENDING_BYTES`
over all topics (past it everything is merged at once: a flood of big payloads on many
topics cannot pile up), and the broker merges everything at each of its statistics
intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from operator import itemgetter
from typing import Any

import msgpack

from hmi.core.quality import Reason

NODE_DEAD = Reason.NODE_DEAD.value
#: encoded batches a topic keeps before they are merged (bounds memory and latency)
MERGE_AFTER = 256
#: bytes of encoded batches a topic keeps before they are merged (256 payloads of up to
#: 16 MiB each would be 4 GiB)
MERGE_BYTES = 1 << 20
#: bytes of encoded batches waiting over all topics before every topic is merged
MAX_PENDING_BYTES = 64 << 20
#: tag entries (and topics) cached at most, by default (``hmi broker --max-cache-entries``)
MAX_ENTRIES = 250_000
#: layouts a topic remembers from one merge to the next
KEEP_LAYOUTS = 3

_unpackb = msgpack.unpackb
_pack: Callable[[Any], bytes] = msgpack.Packer(use_bin_type=True, autoreset=True).pack
#: MessagePack type bytes of numbers whose data bytes may take any value: float 32/64,
#: uint 8-64, int 8-64
_NUMBERS = frozenset(range(0xCA, 0xD4))
_payload_of = itemgetter(0)

_covers_c: Callable[[bytes, bytes, bytes], bool] | None
_covered_run_c: Callable[[bytes, bytes, list[tuple[bytes, int]], int], int] | None
_collapse_c: Callable[[bytes, bytes, list[tuple[bytes, int]], int], tuple[int, int]] | None
try:  # the layout test in C where the tap helper is built (hmi.bus.broker.tapc)
    from hmi.bus.broker._tapc import collapse as _collapse_c
    from hmi.bus.broker._tapc import covered_run as _covered_run_c
    from hmi.bus.broker._tapc import covers as _covers_c
except ImportError:
    _covers_c = _covered_run_c = _collapse_c = None


def _no_layout(payload: bytes) -> bool:
    """No layout is known yet: nothing matches."""
    return False


class Layout:
    """The bytes of an encoded batch apart from the data bytes of its numbers."""

    __slots__ = (
        "collapse",
        "free",
        "free_bytes",
        "matches",
        "size",
        "skip_run",
        "structure",
        "structure_bytes",
    )

    def __init__(self, payload: bytes, free: int) -> None:
        self.size = len(payload)
        #: one bits over the bytes that may differ
        self.free = free
        self.structure = int.from_bytes(payload, "little") | free
        self.free_bytes = free.to_bytes(self.size, "little")
        self.structure_bytes = self.structure.to_bytes(self.size, "little")
        #: ``matches(payload)``: True when ``payload`` decodes to the same names, in the
        #: same order, with the same qualities and non-number values (numbers may differ).
        #: A bound C function where the tap helper is built (10x faster on 3.5 KB).
        self.matches: Callable[[bytes], bool] = (
            partial(_covers_c, self.free_bytes, self.structure_bytes)
            if _covers_c is not None
            else self._matches
        )
        #: ``skip_run(pending, start)``: walking ``(payload, full)`` batches down from
        #: ``start``, the index of the first this layout does not match or that is FULL
        #: (-1: none); only with the C helper (None: test one by one)
        self.skip_run: Callable[[list[tuple[bytes, int]], int], int] | None = (
            partial(_covered_run_c, self.free_bytes, self.structure_bytes)
            if _covered_run_c is not None
            else None
        )
        #: ``collapse(pending, start)``: of two neighbours from ``start - 1`` on that match,
        #: the older is removed (its FULL flag goes to the newer); returns ``(batches,
        #: bytes)`` removed. Only with the C helper.
        self.collapse: Callable[[list[tuple[bytes, int]], int], tuple[int, int]] | None = (
            partial(_collapse_c, self.free_bytes, self.structure_bytes)
            if _collapse_c is not None
            else None
        )

    def _matches(self, payload: bytes) -> bool:
        return (
            len(payload) == self.size
            and int.from_bytes(payload, "little") | self.free == self.structure
        )

    @classmethod
    def of(cls, payload: bytes, entries: tuple[tuple[Any, ...], ...]) -> Layout | None:
        """The layout of ``payload``, a checked sample batch decoded as ``entries``; None
        when ``payload`` is not how this module's MessagePack packs them (positions would
        be guessed: no layout)."""
        if _pack(entries) != payload:
            return None
        free = bytearray(len(payload))
        pos = len(payload) - sum(len(_pack(entry)) for entry in entries)  # the array header
        for name, value, quality, source_time in entries:
            pos += 1 + len(_pack(name))  # the entry's array header, the name
            pos = _free(value, pos, free)
            pos += len(_pack(quality))
            pos = _free(source_time, pos, free)
        return cls(payload, int.from_bytes(free, "little"))


def _free(item: Any, pos: int, free: bytearray) -> int:
    """Mark the data bytes of ``item`` at ``pos`` when it is a number; returns the end."""
    packed = _pack(item)
    size = len(packed)
    if packed[0] in _NUMBERS:  # only numbers pack to these type bytes
        free[pos + 1 : pos + size] = b"\xff" * (size - 1)
    return pos + size


class _Topic:
    __slots__ = ("entries", "layouts", "name", "owner", "pending", "size")

    def __init__(self, owner: str, name: bytes) -> None:
        self.owner = owner
        #: the topic, encoded
        self.name = name
        self.entries: dict[str, Any] = {}
        #: encoded batches not merged yet, oldest first: (payload, full)
        self.pending: list[tuple[bytes, int]] = []
        #: their bytes
        self.size = 0
        #: the layouts of the newest batches decoded, newest first (the next batches
        #: likely have one of them)
        self.layouts: list[Layout] = []


def _check(payload: bytes) -> tuple[tuple[Any, ...], ...] | None:
    """The entries of a sample batch, or None when it is not one."""
    try:
        entries = _unpackb(payload, use_list=False)
    except Exception:  # msgpack raises several types for garbage
        return None
    if type(entries) is not tuple:
        return None
    for entry in entries:
        if type(entry) is not tuple or len(entry) != 4 or type(entry[0]) is not str:
            return None
    return entries


class LastValueCache:
    """Latest sample entries per ``tag/`` topic, at most ``max_entries`` of them."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._topics: dict[str, _Topic] = {}
        #: encoded topic -> the parts (free, structure) of its usual layout (the newest
        #: one decoded): the tap's C helper drops the batches it makes moot on the way in
        #: (hmi.bus.broker.tapc)
        self.usual: dict[bytes, tuple[bytes, bytes]] = {}
        #: the tag entries cached, over every topic
        self._count = 0
        #: publisher -> the topics it published last, and when it last published (the
        #: broker's ``now``): what :meth:`forget_gone` forgets
        self._owned: dict[str, set[str]] = {}
        self._seen: dict[str, float] = {}
        #: batches that were not sample batches (bad MessagePack or shape), left out
        self.bad = 0
        #: batches merged by decoding them, and found moot without (statistics, tests)
        self.decoded = 0
        self.skipped = 0
        #: new topics and tags not cached: the cache was full
        self.refused = 0
        #: topics forgotten, their publishers gone
        self.forgotten = 0
        #: bytes of encoded batches waiting to be merged, over every topic
        self.pending_bytes = 0

    def __len__(self) -> int:
        self.merge()
        return self._count

    @property
    def topics(self) -> int:
        """How many topics are cached."""
        return len(self._topics)

    def add(self, topic: str, sender: str, payload: bytes, full: int = 0, now: float = 0.0) -> None:
        """Queue an encoded batch published on ``topic`` by ``sender``; ``full`` (true: the
        batch holds every tag of the topic) may be any truth value."""
        self.extend(topic, sender, [(payload, full)], now)

    def extend(
        self, topic: str, sender: str, batches: list[tuple[bytes, int]], now: float = 0.0
    ) -> None:
        """Queue encoded ``(payload, full)`` batches of ``topic``, oldest first, the last
        one published by ``sender`` at ``now`` (the broker's hot path: one call per topic
        and read). A new topic is not cached while the cache is full."""
        cached = self._topics.get(topic)
        if cached is None:
            if len(self._topics) >= self.max_entries or self._count >= self.max_entries:
                self.refused += 1
                return
            cached = self._topics[topic] = _Topic(sender, topic.encode())
            self._own(topic, sender)
        elif cached.owner != sender:
            self._disown(topic, cached.owner)
            cached.owner = sender
            self._own(topic, sender)
        self._seen[sender] = now
        pending = cached.pending
        pending += batches
        size = sum(map(len, map(_payload_of, batches)))
        collapse = cached.layouts[0].collapse if cached.layouts else None
        if collapse is not None:
            # of neighbours with the usual layout, only the newest waits (the others are
            # moot at the merge anyway): few batches wait, and their memory is reused
            removed, removed_bytes = collapse(pending, len(pending) - len(batches))
            self.skipped += removed
            size -= removed_bytes
        cached.size += size
        self.pending_bytes += size
        if len(pending) >= MERGE_AFTER or cached.size >= MERGE_BYTES:
            self._merge(cached)
        elif self.pending_bytes >= MAX_PENDING_BYTES:
            self.merge()

    def _own(self, topic: str, owner: str) -> None:
        owned = self._owned.get(owner)
        if owned is None:
            owned = self._owned[owner] = set()
        owned.add(topic)

    def _disown(self, topic: str, owner: str) -> None:
        owned = self._owned.get(owner)
        if owned is not None:
            owned.discard(topic)
            if not owned:
                del self._owned[owner]
                self._seen.pop(owner, None)

    def forget_gone(self, now: float, alive: Callable[[str], bool], after: float) -> int:
        """Forget the topics of every publisher that has not published for ``after``
        seconds and is not ``alive`` (a live node keeps its values however old: a static
        tag is published once). Returns how many topics were forgotten."""
        gone = [
            owner for owner, seen in self._seen.items() if now - seen > after and not alive(owner)
        ]
        return sum(self.forget_owner(owner) for owner in gone)

    def forget_owner(self, owner: str) -> int:
        """Forget every topic ``owner`` published last; how many."""
        topics = self._owned.pop(owner, set())
        self._seen.pop(owner, None)
        for topic in topics:
            cached = self._topics.pop(topic)
            self.usual.pop(cached.name, None)
            self._count -= len(cached.entries)
            self.pending_bytes -= cached.size
        self.forgotten += len(topics)
        return len(topics)

    def _merge(self, cached: _Topic) -> None:
        """Merge the batches waiting on ``cached`` (a topic) into its entries."""
        pending = cached.pending
        if not pending:
            return
        cached.pending = []
        self.pending_bytes -= cached.size
        cached.size = 0
        self._apply(cached, pending)

    def _apply(self, cached: _Topic, pending: list[tuple[bytes, int]]) -> None:
        """Apply ``pending`` (taken from ``cached``, oldest first) to its entries."""
        # Newest first, down to the last FULL batch (the ones before it are moot). A batch
        # with the layout of a newer one decoded here is moot too: the layouts known from
        # earlier merges count once a batch decoded here has one of them (a driver's odd
        # batch, e.g. with a quality change, does not hide its usual layout).
        decoded = []
        full = False
        known = cached.layouts
        covering: list[Layout] = []  # layouts of newer batches that are applied
        # the first one's test, looked up once; with the C helper, also a run of batches
        # it covers is skipped in one call
        first_matches: Callable[[bytes], bool] = _no_layout
        skip_run: Callable[[list[tuple[bytes, int]], int], int] | None = None
        skipped = 0
        i = len(pending) - 1
        while i >= 0:
            if skip_run is not None:
                end = skip_run(pending, i)  # the first not moot by it (or FULL), or -1
                skipped += i - end
                i = end
                if i < 0:
                    break
            payload, full_flag = pending[i]
            i -= 1
            if first_matches(payload) or (
                len(covering) > 1 and any(layout.matches(payload) for layout in covering[1:])
            ):
                skipped += 1
            else:
                entries = _check(payload)
                if entries is None:
                    self.bad += 1
                    continue
                decoded.append(entries)
                first = len(decoded) == 1
                if first or len(covering) < len(known):
                    self._cover(known, covering, payload, entries, first)
                    if covering and first_matches is _no_layout:
                        first_matches = covering[0].matches
                        skip_run = covering[0].skip_run
            if full_flag:
                full = True
                break
        self.decoded += len(decoded)
        self.skipped += skipped
        if known:
            self.usual[cached.name] = (known[0].free_bytes, known[0].structure_bytes)
        before = len(cached.entries)
        store = cached.entries = {} if full else cached.entries
        # (at most this many new tags fit; when the batches hold fewer entries, none is
        # looked up first)
        room = self.max_entries - self._count + before - len(store)
        if sum(map(len, decoded)) <= room:
            for entries in reversed(decoded):
                for entry in entries:
                    store[entry[0]] = entry
        else:
            for entries in reversed(decoded):
                for entry in entries:
                    name = entry[0]
                    if name in store:
                        store[name] = entry
                    elif room > 0:
                        store[name] = entry
                        room -= 1
                    else:
                        self.refused += 1
        self._count += len(store) - before

    @staticmethod
    def _cover(
        known: list[Layout],
        covering: list[Layout],
        payload: bytes,
        entries: tuple[tuple[Any, ...], ...],
        first: bool,
    ) -> None:
        """A batch was decoded (and is applied): its layout covers the older batches. It
        is looked for among the known ones; only the newest batch gets a new one made."""
        for layout in known:
            if layout not in covering and layout.matches(payload):
                covering.append(layout)
                return
        if first:
            made = Layout.of(payload, entries)
            if made is not None:
                covering.append(made)
                known.insert(0, made)
                del known[KEEP_LAYOUTS:]

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
        for topic in sorted(self._owned.get(sender, ())):
            cached = self._topics[topic]
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
