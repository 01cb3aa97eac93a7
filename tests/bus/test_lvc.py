"""The broker's last-value cache (hmi.bus.broker.lvc), without sockets: batches found moot without
decoding them leave the cache exactly as decoding every batch would."""

from __future__ import annotations

import random
from typing import Any

import msgpack
import pytest

from hmi.bus.broker import lvc
from hmi.bus.broker.lvc import LastValueCache, Layout


class EveryBatch(LastValueCache):
    """The cache as it was: every batch decoded and checked, newest first down to FULL."""

    def _apply(self, cached: Any, pending: list[tuple[bytes, int]]) -> None:
        decoded, full = [], False
        for payload, full_flag in reversed(pending):
            entries = lvc._check(payload)
            if entries is None:
                self.bad += 1
                continue
            decoded.append(entries)
            if full_flag:
                full = True
                break
        store = cached.entries = {} if full else cached.entries
        for entries in reversed(decoded):
            for entry in entries:
                store[entry[0]] = entry


def values(cache: LastValueCache) -> dict[str, dict[str, Any]]:
    return {topic: {e[0]: e for e in entries} for topic, entries in cache.snapshot("tag/")}


def degraded(cache: LastValueCache, sender: str) -> dict[str, dict[str, Any]]:
    changed = cache.degrade(sender, f"{sender} silent")
    return {topic: {e[0]: e for e in entries} for topic, entries in changed}


def batch(rng: random.Random, names: list[str], t: float) -> bytes:
    """A sample batch of ``names`` as drivers send them: numbers change every scan, the
    rest now and then (each tag keeps the kind of value its name says)."""
    entries: list[Any] = []
    for name in names:
        kind = sum(name.encode()) % 5
        if kind <= 1:
            value: Any = rng.uniform(-1e6, 1e6)
        elif kind == 2:  # ints, now and then of another width (another layout)
            value = (
                rng.randrange(200, 250) if rng.random() < 0.995 else rng.choice([5, -200, 2**40])
            )
        elif kind == 3:
            value = rng.random() < 0.002
        else:
            value = "RUN" if rng.random() < 0.998 else rng.choice(["STOP", "", None])
        quality = 0 if rng.random() < 0.998 else [1, "last known value", rng.choice(["", "x"])]
        source = t if rng.random() < 0.998 else int(t)
        entries.append([name, value, quality, source])
    return msgpack.packb(entries)


def mangle(rng: random.Random, payload: bytes) -> bytes:
    """Not a sample batch, or one a foreign client packed in its own way."""
    choice = rng.randrange(5)
    if choice == 0:
        return payload[: rng.randrange(len(payload))]  # cut
    if choice == 1:
        return msgpack.packb({"not": "a batch"})
    if choice == 2:
        return msgpack.packb([["x", 1, 0, 1.0], "not an entry"])
    if choice == 3:  # float32 numbers (a client that packs single floats)
        entries = msgpack.unpackb(payload)
        return msgpack.packb(entries, use_single_float=True)
    data = bytearray(payload)  # a flipped byte: garbage, or another valid batch
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


@pytest.mark.parametrize("in_c", [True, False], ids=["c", "python"])
@pytest.mark.parametrize("seed", range(8))
def test_skipping_moot_batches_caches_what_decoding_every_batch_caches(seed, in_c, monkeypatch):
    if not in_c:  # the layout test in Python (where the tap helper is not built)
        monkeypatch.setattr(lvc, "_covers_c", None)
        monkeypatch.setattr(lvc, "_covered_run_c", None)
        monkeypatch.setattr(lvc, "_collapse_c", None)
    rng = random.Random(seed)
    fast, every = LastValueCache(), EveryBatch()
    groups = {
        f"tag/{i}": [f"{i}/dev{j // 10}/p{j}" for j in range(rng.randrange(1, 40))]
        for i in range(3)
    }
    for step in range(4000):
        topic = rng.choice(list(groups))
        names = groups[topic]
        if rng.random() < 0.03:  # a driver sending only what changed
            names = rng.sample(names, rng.randrange(1, len(names) + 1))
        if rng.random() < 0.002:  # a tag added to the scan
            groups[topic] = names = [*groups[topic], f"{topic}/new{step}"]
        payload = batch(rng, names, 1.7e9 + step)
        if rng.random() < 0.03:
            payload = mangle(rng, payload)
        full = int(rng.random() < 0.01)
        sender = rng.choice(["a", "b"])
        for cache in (fast, every):
            cache.add(topic, sender, payload, full)
        if rng.random() < 0.003:  # a snapshot or a node death merges what waits
            assert values(fast) == values(every)
            assert degraded(fast, "a") == degraded(every, "a")
    assert values(fast) == values(every)
    # a malformed batch is counted when a merge looks at it; those older than a FULL one
    # are not looked at, and with the C helper fewer batches wait, so merges come later
    # (a FULL batch hides more): never more are counted than by decoding every batch
    assert fast.bad == every.bad if not in_c else fast.bad <= every.bad
    assert fast.skipped > fast.decoded  # most batches were found moot without decoding


def test_a_driver_scanning_the_same_tags_is_decoded_once_per_merge():
    cache = LastValueCache()
    names = [f"line1/dev{j // 10}/p{j}" for j in range(100)]
    for i in range(lvc.MERGE_AFTER):
        cache.add("tag/line1/plc", "d", msgpack.packb([[n, float(i), 0, float(i)] for n in names]))
    assert (cache.decoded, cache.skipped) == (1, lvc.MERGE_AFTER - 1)
    [(_, entries)] = cache.snapshot("tag/")
    last = float(lvc.MERGE_AFTER - 1)
    assert entries == [(n, last, 0, last) for n in names]


def test_a_layout_matches_only_batches_with_the_same_names_and_structure():
    entries = ((("a/x", 1.5, 0, 10.0), ("a/y", 200, 0, 10.0)),)[0]
    payload = msgpack.packb(entries)
    layout = Layout.of(payload, entries)
    assert layout is not None
    assert layout.matches(msgpack.packb([["a/x", -7.25, 0, 11.0], ["a/y", 255, 0, 12.5]]))
    for other in (
        [["a/x", 1.5, 0, 10.0], ["a/z", 200, 0, 10.0]],  # another name
        [["a/y", 1.5, 0, 10.0], ["a/x", 200, 0, 10.0]],  # another order
        [["a/x", 1.5, 0, 10.0], ["a/y", 70_000, 0, 10.0]],  # a wider int
        [["a/x", 1.5, 0, 10.0], ["a/y", 5, 0, 10.0]],  # a fixint (one byte)
        [["a/x", 1.5, [1, "x", ""], 10.0], ["a/y", 200, 0, 10.0]],  # another quality
        [["a/x", 1.5, 0, 10.0]],
    ):
        assert not layout.matches(msgpack.packb(other))
    # a batch packed otherwise than this MessagePack packs it has no layout
    assert Layout.of(msgpack.packb(entries, use_single_float=True), entries) is None
