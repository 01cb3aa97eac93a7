"""The historian's SQLite storage: insert, raw range, buckets with gaps, retention."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmi.services.history_store import HistoryStore

T0 = 1_700_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    with HistoryStore(tmp_path / "data" / "history.sqlite") as s:
        yield s  # type: ignore[misc]


def test_raw_range_with_the_sample_before_the_start(store: HistoryStore) -> None:
    store.insert([("a/b/x", T0 + i, float(i), 0) for i in range(10)])
    series = store.raw("a/b/x", T0 + 3, T0 + 6)
    assert series.t == [T0 + 2, T0 + 3, T0 + 4, T0 + 5]
    assert series.value == [2.0, 3.0, 4.0, 5.0]
    assert store.raw("a/b/x", T0 + 3, T0 + 6, prior=False).t[0] == T0 + 3
    assert store.raw("other/tag/y", T0, T0 + 10).t == []


def test_values_keep_their_types_and_bad_rows_are_gaps(store: HistoryStore) -> None:
    store.insert(
        [
            ("a/b/s", T0, "RUN", 0),
            ("a/b/s", T0 + 1, 7, 1),
            ("a/b/s", T0 + 2, 99.0, 2),  # BAD: the stale value is not history
            ("a/b/s", T0 + 3, True, 0),
        ]
    )
    series = store.raw("a/b/s", T0, T0 + 10)
    assert series.value == ["RUN", 7, None, 1]
    assert series.quality == [0, 1, 2, 0]


def test_buckets_min_max_avg_and_gaps(store: HistoryStore) -> None:
    # 100 s of 1 Hz data; seconds 40..59 BAD (comm loss).
    store.insert([("a/b/x", T0 + i, float(i % 10), 2 if 40 <= i < 60 else 0) for i in range(100)])
    b = store.buckets("a/b/x", T0, T0 + 100, 10)
    assert len(b.t) == 10
    assert b.t[0] == T0 and b.t[1] == T0 + 10
    assert b.min[0] == 0.0 and b.max[0] == 9.0 and b.avg[0] == 4.5
    assert b.count[0] == 10 and b.bad[0] == 0
    assert (b.count[4], b.bad[4], b.min[4], b.avg[4]) == (0, 10, None, None)  # a gap
    assert b.to_dict()["count"][5] == 0


def test_buckets_never_exceed_the_width_and_skip_empty_ranges(store: HistoryStore) -> None:
    store.insert([("a/b/x", T0 + i, 1.0, 0) for i in range(0, 1000, 100)])
    b = store.buckets("a/b/x", T0, T0 + 1000, 333)
    assert len(b.t) == 10 and sum(b.count) == 10
    assert store.buckets("a/b/x", T0, T0 + 10, 0).t == []
    assert store.buckets("nope/no/tag", T0, T0 + 10, 10).t == []


def test_same_millisecond_last_wins(store: HistoryStore) -> None:
    store.insert([("a/b/x", T0, 1.0, 0), ("a/b/x", T0, 2.0, 0)])
    assert store.raw("a/b/x", T0, T0 + 1).value == [2.0]


def test_retention_deletes_by_age_per_tag(store: HistoryStore) -> None:
    store.insert([(f"a/b/t{k}", T0 + i, 1.0, 0) for k in range(3) for i in range(100)])
    assert store.purge(T0 + 50, batch=7) == 150
    assert store.count() == 150 and store.count("a/b/t1") == 50
    assert store.raw("a/b/t1", T0, T0 + 100, prior=False).t[0] == T0 + 50
    store.checkpoint()
    assert store.integrity_check() == "ok"


def test_a_second_connection_reads_what_the_first_committed(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as writer, HistoryStore(path, readonly=True) as reader:
        assert reader.tags() == []
        writer.insert([("a/b/x", T0, 1.0, 0)])
        assert reader.tags() == ["a/b/x"]
        assert reader.raw("a/b/x", T0, T0 + 1).value == [1.0]
