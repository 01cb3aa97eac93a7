"""What the broker records of the publications it forwards: values, gaps, statistics.

Pure (no sockets, no clock): the broker hands it each read of its tap (the fast path, see
:mod:`hmi.bus.forwarder`) or each publication it checked on its front (the checked path).
It keeps the last-value cache of ``tag/`` topics, the per-(sender, topic) sequence check,
the per-topic counts, and the message counts of the nodes it knows by sender id.
"""

from __future__ import annotations

from typing import Any

from hmi.bus.brokerstats import BrokerStats, NodeInfo
from hmi.bus.frames import MAX_TOPIC, Flag, Kind, check_header
from hmi.bus.lvc import LastValueCache

_PUB = int(Kind.PUB)
_FULL = int(Flag.FULL)


class Ledger:
    """The broker's record of publications; ``mine``: the broker's own sender id."""

    def __init__(self, mine: str) -> None:
        self._mine = mine
        self.cache = LastValueCache()
        self.stats = BrokerStats()
        #: the nodes the broker knows, by sender id (the tap sees senders, not routing ids)
        self.senders: dict[str, NodeInfo] = {}
        self._seqs: dict[tuple[str, bytes], int] = {}

    def record_read(self, messages: list[list[bytes]], now: float) -> None:
        """Record the messages of one read of the broker's tap (the fast path).

        One call per read: lookups stay in locals, sums per topic are applied once. What
        is malformed here was delivered already (receivers drop it): it is counted.
        """
        drops = self.stats.drops
        seqs = self._seqs
        senders = self.senders
        mine = self._mine
        #: topic -> [messages, bytes, the topic's text when it is a tag/ topic, else '']
        per_topic: dict[bytes, list[Any]] = {}
        tags: dict[str, tuple[str, list[tuple[bytes, int]]]] = {}
        gaps = 0
        for frames in messages:
            if len(frames) != 3:
                drops["frame_count"] += 1
                continue
            topic_b, header_b, payload_b = frames
            fields = check_header(header_b)
            if isinstance(fields, str):
                drops[fields] += 1
                continue
            _, kind, sender, seq, _, flags = fields
            if sender == mine:
                continue  # the broker's own
            if kind != _PUB:
                drops["kind"] += 1
                continue
            counted = per_topic.get(topic_b)
            if counted is None:
                if not topic_b or len(topic_b) > MAX_TOPIC:
                    drops["topic_size"] += 1
                    continue
                try:
                    topic = topic_b.decode()
                except UnicodeDecodeError:
                    drops["topic_utf8"] += 1
                    continue
                counted = per_topic[topic_b] = [0, 0, topic if topic.startswith("tag/") else ""]
            counted[0] += 1
            counted[1] += len(payload_b)
            if counted[2]:
                topic = counted[2]
                batches = tags.get(topic)
                if batches is None or batches[0] != sender:
                    if batches is not None:  # another sender: keep who published what
                        self.cache.extend(topic, batches[0], batches[1])
                    batches = tags[topic] = (sender, [])
                batches[1].append((payload_b, flags & _FULL))
            key = (sender, topic_b)
            last = seqs.get(key)
            if last is not None and seq > last + 1:
                gaps += 1
            seqs[key] = seq
            node = senders.get(sender)
            if node is not None:
                node.messages += 1
                node.last_seen = now
        extend = self.cache.extend
        for name, (publisher, waiting) in tags.items():
            extend(name, publisher, waiting)
        self.stats.count_many(per_topic)
        self.stats.gaps += gaps

    def record(  # noqa: PLR0917 - the fields of one publication
        self, topic_b: bytes, topic: str, sender: str, seq: int, flags: int, payload_b: bytes
    ) -> None:
        """Record one checked publication (the checked path: its frames were checked)."""
        if topic_b.startswith(b"tag/"):
            self.cache.add(topic, sender, payload_b, flags & _FULL)
        seq_key = (sender, topic_b)
        seqs = self._seqs
        last = seqs.get(seq_key)
        if last is not None and seq > last + 1:
            self.stats.gaps += 1
        seqs[seq_key] = seq
        self.stats.count(topic_b, len(payload_b))
