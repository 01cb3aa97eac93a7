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


def test_a_silence_longer_than_the_recording_interval_is_marked_as_a_gap(
    store: HistoryStore,
) -> None:
    # A quiet tag stored on change with a 60 s maximum interval: a row every 60 s ...
    rows = [("a/b/sp", T0 + t, 2.5, 0) for t in range(0, 601, 60)]
    # ... then the historian was stopped for 10 minutes, and recorded again from T0 + 1200.
    rows += [("a/b/sp", T0 + t, 2.5, 0) for t in range(1200, 1801, 60)]
    store.insert(rows)
    b = store.buckets("a/b/sp", T0, T0 + 1800, 180, gap_after=66.0, now=T0 + 1810)
    marked = [t for t, gap in zip(b.t, b.gap, strict=True) if gap]
    assert marked == [T0 + 600]  # the bucket of the last row before the silence
    assert sum(b.count) == len(rows) - 1 and b.bad == [0] * len(b.t)  # T0 + 1800: past the end
    # unchanged for a maximum interval is not a gap; nor without ``gap_after``
    assert store.buckets("a/b/sp", T0, T0 + 1800, 180).gap == [0] * len(b.t)


def test_the_silence_after_the_last_row_ends_at_the_next_row_or_now(store: HistoryStore) -> None:
    store.insert([("a/b/sp", T0 + t, 1.0, 0) for t in range(0, 301, 60)])  # last row at 300
    store.insert([("a/b/sp", T0 + 340, 1.0, 0)])
    # the view ends before the next row, which comes within the limit: not a gap
    assert store.buckets("a/b/sp", T0, T0 + 320, 32, gap_after=66.0).gap[-1] == 0
    # nothing after the last row: silent until now (the recorder's next row is not due yet)
    assert store.buckets("a/b/sp", T0, T0 + 900, 90, gap_after=66.0, now=T0 + 400).gap[-1] == 0
    # ... or silent for longer than the limit: the historian is not recording
    b = store.buckets("a/b/sp", T0, T0 + 900, 90, gap_after=66.0, now=T0 + 900)
    assert b.gap[-1] == 1 and sum(b.gap) == 1
    # a view ending in the past is measured up to its end, not up to now
    b = store.buckets("a/b/sp", T0, T0 + 380, 38, gap_after=66.0, now=T0 + 9000)
    assert b.gap[-1] == 0


def test_buckets_start_with_the_value_in_effect_at_the_start_of_the_range(
    store: HistoryStore,
) -> None:
    # A setpoint stored on change: 3.2 long before the range, 2.0 from T0 + 500.
    store.insert([("a/b/sp", T0, 3.2, 0), ("a/b/sp", T0 + 500, 2.0, 0)])
    b = store.buckets("a/b/sp", T0 + 100, T0 + 1000, 9)
    # first: the row before the range, as a point at its start (no row of the range in it)
    assert (b.t[0], b.first_t[0], b.last_t[0]) == (T0 + 100, T0, T0)
    assert (b.last[0], b.avg[0], b.count[0], b.bad[0]) == (3.2, 3.2, 0, 0)
    # then the buckets with rows: the change, at its own time
    assert b.t[1:] == [T0 + 500] and b.first_t[1:] == [T0 + 500] and b.first[1:] == [2.0]
    # a BAD row before the range: nothing is in effect at its start
    store.insert([("a/b/sp", T0 + 1500, None, 2)])
    b = store.buckets("a/b/sp", T0 + 1600, T0 + 1700, 10)
    assert (b.t, b.last, b.bad, b.count) == ([T0 + 1600], [None], [1], [0])
    # no row before the range: no such point
    assert store.buckets("a/b/sp", T0 - 100, T0 + 100, 2).t == [T0]


def test_each_bucket_carries_its_first_and_last_row(store: HistoryStore) -> None:
    # one bucket of 10 s: 1.0, 5.0, BAD, 2.0 (the value it leaves behind is 2.0, not 2.67)
    rows = [(1.0, 0), (5.0, 0), (None, 2), (2.0, 0)]
    store.insert([("a/b/x", T0 + 2 * i + 1, v, q) for i, (v, q) in enumerate(rows)])
    b = store.buckets("a/b/x", T0, T0 + 10, 1)
    assert (b.first, b.last, b.first_t, b.last_t) == ([1.0], [2.0], [T0 + 1], [T0 + 7])
    assert (b.min, b.max, b.count, b.bad) == ([1.0], [5.0], [3], [1])
    # a bucket ending on a BAD row: its last value is None (the line ends there)
    store.insert([("a/b/x", T0 + 9, None, 2)])
    assert store.buckets("a/b/x", T0, T0 + 10, 1).last == [None]


def test_the_value_in_effect_at_the_start_is_no_data_after_a_long_silence(
    store: HistoryStore,
) -> None:
    # the historian was stopped after the row at T0 and restarted at T0 + 600
    store.insert([("a/b/sp", T0, 2.5, 0), ("a/b/sp", T0 + 600, 2.5, 0)])
    b = store.buckets("a/b/sp", T0 + 100, T0 + 700, 60, gap_after=66.0, now=T0 + 700)
    assert b.t[0] == T0 + 100 and b.gap[0] == 1  # not held: nothing was recorded
    # recorded all along (a heartbeat within the limit): held
    store.insert([("a/b/sp", T0 + 60, 2.5, 0), ("a/b/sp", T0 + 120, 2.5, 0)])
    b = store.buckets("a/b/sp", T0 + 100, T0 + 110, 10, gap_after=66.0, now=T0 + 700)
    assert (b.t, b.last, b.gap) == ([T0 + 100], [2.5], [0])
