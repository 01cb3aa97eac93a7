"""What the broker records of the publications it forwards: values, gaps, statistics.

Pure (no sockets, no clock): the broker hands it each read of its tap (the fast path, see
:mod:`hmi.bus.broker.forwarder`) or each publication it checked on its front (the checked path).
It keeps the last-value cache of ``tag/`` topics, the per-(sender, topic) sequence check,
the per-topic counts, and the message counts of the nodes it knows by sender id.

Bounded (docs/bus-protocol.md, "Bounds"): the cache by its own limit, the per-topic
counts by :data:`hmi.bus.broker.brokerstats.MAX_TOPICS`, the sequence numbers by
:data:`MAX_SEQS` (past it they are forgotten all at once: each (sender, topic) then
misses the gap check of one message), and what is kept of a sender is forgotten with it
(:meth:`Ledger.forget`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hmi.bus.broker.brokerstats import BrokerStats, NodeInfo
from hmi.bus.broker.lvc import MAX_ENTRIES, LastValueCache
from hmi.bus.wire.frames import MAX_TOPIC, Flag, Kind, check_header

_PUB = int(Kind.PUB)
_FULL = int(Flag.FULL)
#: nodes' probes (see hmi.bus.net.resync): a new topic each, no record kept of them
_PROBE = b"$probe/"
#: (sender, topic) sequence numbers kept at most
MAX_SEQS = 100_000
#: senders forgotten before their sequence numbers are purged at once (see Ledger.forget)
MAX_FORGETTING = 10_000


class Ledger:
    """The broker's record of publications; ``mine``: the broker's own sender id."""

    def __init__(self, mine: str, max_cache_entries: int = MAX_ENTRIES) -> None:
        self._mine = mine
        self.cache = LastValueCache(max_cache_entries)
        self.stats = BrokerStats()
        #: the nodes the broker knows, by sender id (the tap sees senders, not routing ids)
        self.senders: dict[str, NodeInfo] = {}
        #: the last sequence number seen per (sender, topic)
        self._seqs: dict[tuple[str, bytes], int | None] = {}
        #: senders forgotten whose sequence numbers go at the next :meth:`purge`
        self._forgetting: set[str] = set()

    def record_read(self, items: Sequence[Sequence[Any]], now: float) -> None:
        """Record one read of the broker's tap (the fast path): its messages, or runs of
        them as the tap's C helper takes them apart (hmi.bus.broker.tapc).

        An item is a message ``(topic, header, payload)`` (``()``: another frame count), or
        a run of publications of one sender on one topic, ``(topic, sender, first seq,
        last seq, gaps within it, count, bytes, [(payload, full)], moot)``, whose headers
        were read and found usual (the broker's own left out), and of whose batches
        ``moot`` were left out (a newer one of the usual layout sets all they set). One
        call per read, and per run of messages of one (sender, topic) the lookups are
        made once. What is malformed here was delivered already (receivers drop it): it
        is counted.
        """
        drops = self.stats.drops
        seqs = self._bounded_seqs()
        mine = self._mine
        #: topic -> [messages, bytes, the topic's text when it is a tag/ topic, else '']
        per_topic: dict[bytes, list[Any]] = {}
        #: tag/ topic -> (sender, its batches waiting for the cache), in order
        tags: dict[str, tuple[str, list[tuple[bytes, int]]]] = {}
        gaps = skipped = 0
        # the current run: its topic and sender, counters, cache list, last seq, node
        run_topic: bytes | None = None
        run_sender = ""
        run = 0
        counted: list[Any] = []
        waiting: list[tuple[bytes, int]] | None = None
        last: int | None = None
        node: NodeInfo | None = None
        for item in items:
            if len(item) == 9:
                topic_b, sender, first, seq, inner_gaps, count, size, batches, moot = item
                skipped += moot
            else:
                if len(item) != 3:
                    drops["frame_count"] += 1
                    continue
                topic_b, header_b, payload_b = item
                fields = check_header(header_b)
                if isinstance(fields, str):
                    drops[fields] += 1
                    continue
                _, kind, sender, first, _, flags = fields
                if sender == mine:
                    continue  # the broker's own
                if kind != _PUB:
                    drops["kind"] += 1
                    continue
                seq, inner_gaps, count, size = first, 0, 1, len(payload_b)
                batches = ((payload_b, flags & _FULL),)
            if topic_b != run_topic or sender != run_sender:
                if run_topic is not None:  # the end of a run
                    seqs[(run_sender, run_topic)] = last
                    if node is not None:
                        _heard(node, run, now)
                    run_topic = None
                found = per_topic.get(topic_b)
                if found is None:
                    if topic_b.startswith(_PROBE):
                        continue
                    if not topic_b or len(topic_b) > MAX_TOPIC:
                        drops["topic_size"] += count
                        continue
                    try:
                        topic = topic_b.decode()
                    except UnicodeDecodeError:
                        drops["topic_utf8"] += count
                        continue
                    found = per_topic[topic_b] = [0, 0, topic if topic.startswith("tag/") else ""]
                counted = found
                waiting = None
                if counted[2]:
                    group = tags.get(counted[2])
                    if group is None or group[0] != sender:
                        if group is not None:  # another sender: keep who published what
                            self.cache.extend(counted[2], group[0], group[1])
                        group = tags[counted[2]] = (sender, [])
                    waiting = group[1]
                last = seqs.get((sender, topic_b))
                node = self.senders.get(sender)
                run_topic, run_sender, run = topic_b, sender, 0
            if last is not None and first > last + 1:
                gaps += 1
            gaps += inner_gaps
            last = seq
            run += count
            counted[0] += count
            counted[1] += size
            if waiting is not None:
                waiting += batches
        if run_topic is not None:
            seqs[(run_sender, run_topic)] = last
            if node is not None:
                _heard(node, run, now)
        extend = self.cache.extend
        for name, (publisher, batches) in tags.items():
            extend(name, publisher, batches, now)
        self.stats.count_many(per_topic)
        self.stats.gaps += gaps
        self.cache.skipped += skipped

    def _bounded_seqs(self) -> dict[tuple[str, bytes], int | None]:
        """The sequence numbers, forgotten first when there are :data:`MAX_SEQS` (a flood
        of new topics); a read or run adds a few thousand at most before the next check."""
        if len(self._seqs) >= MAX_SEQS:
            self._seqs.clear()
        return self._seqs

    def forget(self, sender: str) -> None:
        """Forget the sequence numbers of ``sender`` (gone, and forgotten by the broker) at
        the next :meth:`purge`: one pass over them all for every sender forgotten meanwhile
        (a pass over 100,000 of them takes ~20 ms: one per sender would stall the broker
        for 40 s when a fuzzer's 2,000 fake nodes are forgotten together)."""
        self._forgetting.add(sender)
        if len(self._forgetting) >= MAX_FORGETTING:
            self.purge()

    def purge(self) -> None:
        """Forget the sequence numbers of the senders forgotten since the last call (the
        broker calls it at each statistics interval)."""
        if self._forgetting:
            gone = self._forgetting
            self._forgetting = set()
            self._seqs = {key: seq for key, seq in self._seqs.items() if key[0] not in gone}

    def last_seq(self, sender: str, topic_b: bytes) -> int | None:
        """The sequence number last recorded of ``sender`` on ``topic_b`` (None: none)."""
        return self._seqs.get((sender, topic_b))

    def record_run(self, run: Run) -> None:
        """Record a run of checked publications of one sender on one topic (the checked
        path's front: its frames were checked, its gaps counted in the run)."""
        if run.batches:
            self.cache.extend(run.topic, run.sender, run.batches, run.node.last_seen)
        self._bounded_seqs()[(run.sender, run.topic_b)] = run.last
        self.stats.count_run(run.topic_b, run.count, run.size)
        self.stats.gaps += run.gaps

    def record(  # noqa: PLR0917 - the fields of one publication
        self,
        topic_b: bytes,
        topic: str,
        sender: str,
        seq: int,
        flags: int,
        payload_b: bytes,
        now: float = 0.0,
    ) -> None:
        """Record one checked publication (its frames were checked) seen at ``now``; what
        a run of them comes to (:meth:`record_run`, the front's way), one at a time."""
        if topic_b.startswith(_PROBE):
            return
        if topic_b.startswith(b"tag/"):
            self.cache.add(topic, sender, payload_b, flags & _FULL, now)
        seq_key = (sender, topic_b)
        seqs = self._bounded_seqs()
        last = seqs.get(seq_key)
        if last is not None and seq > last + 1:
            self.stats.gaps += 1
        seqs[seq_key] = seq
        self.stats.count(topic_b, len(payload_b))


def _heard(node: NodeInfo, messages: int, now: float) -> None:
    """``node`` published ``messages`` (a run of them) seen on the tap at ``now``."""
    node.messages += messages
    node.last_seen = now
    if not node.said_hello:  # (one that never said hello is alive while it talks)
        node.alive = True


class Run:
    """Publications of one node on one topic in a row, as the broker's front forwards
    them: what the ledger records of them once, at the run's end (see
    :meth:`Ledger.record_run`)."""

    __slots__ = (
        "batches",
        "count",
        "gaps",
        "ident",
        "key",
        "last",
        "node",
        "record",
        "sender",
        "size",
        "topic",
        "topic_b",
    )

    def __init__(  # noqa: PLR0917 - who published on what, as the front checked it
        self,
        node: NodeInfo,
        key: str,
        topic_b: bytes,
        topic: str,
        last: int | None,
        record: bool,
    ) -> None:
        self.node = node
        self.ident = node.ident
        self.sender = node.sender
        self.key = key
        self.topic_b = topic_b
        self.topic = topic
        #: the sequence number last seen of the sender on the topic (None: none yet)
        self.last = last
        #: kept in the ledger (not a probe, and no tap records it)
        self.record = record
        self.count = 0
        self.size = 0
        self.gaps = 0
        #: the run's batches for the cache, ``(payload, full)`` oldest first (a recorded
        #: ``tag/`` topic; None: not cached)
        self.batches: list[tuple[bytes, int]] | None = None
