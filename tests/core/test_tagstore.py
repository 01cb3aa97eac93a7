from __future__ import annotations

from hmi.core.quality import GOOD, Quality, Reason, Severity
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.core.tagstore import TagStore


def test_store_holds_the_latest_sample_and_reports_changes_once():
    store = TagStore([Tag("a/b/c"), Tag("a/b/d")])
    assert store.get("a/b/c").quality.reason is Reason.WAITING_FOR_INITIAL_DATA
    store.apply({"a/b/c": Sample(1.0, GOOD, 1, 1), "a/b/d": Sample(2.0, GOOD, 1, 1)})
    store.update("a/b/c", Sample(3.0, GOOD, 2, 2))
    assert store.get("a/b/c").value == 3.0
    assert store.take_changed() == {"a/b/c", "a/b/d"}
    assert store.take_changed() == set()
    store.update("a/b/d", Sample(4.0))
    assert store.take_changed() == {"a/b/d"}


def test_observers_get_one_call_per_batch_and_can_unsubscribe():
    store = TagStore()
    batches = []
    stop = store.observe(batches.append)
    store.apply({f"a/b/{i}": Sample(i) for i in range(100)})
    assert len(batches) == 1 and len(batches[0]) == 100
    stop()
    store.update("a/b/x", Sample(1))
    assert len(batches) == 1


def test_watchers_see_only_their_tag():
    store = TagStore()
    seen = []
    stop = store.watch("a/b/c", lambda name, s: seen.append((name, s.value)))
    store.apply({"a/b/c": Sample(1), "a/b/d": Sample(2)})
    store.update("a/b/d", Sample(3))
    assert seen == [("a/b/c", 1)]
    stop()
    store.update("a/b/c", Sample(4))
    assert seen == [("a/b/c", 1)]


def test_degrade_keeps_values_and_marks_quality():
    store = TagStore()
    store.apply({"p/d/x": Sample(5.0, GOOD, 10, 10), "p/d/y": Sample(True, GOOD, 10, 10)})
    store.take_changed()
    store.degrade(["p/d/x", "p/d/y"], Quality.uncertain(Reason.LAST_KNOWN_VALUE), now=12)
    assert store.get("p/d/x").value == 5.0
    assert store.get("p/d/y").value is True
    assert store.get("p/d/x").quality.severity is Severity.UNCERTAIN
    assert store.get("p/d/x").receive_time == 12
    assert store.take_changed() == {"p/d/x", "p/d/y"}


def test_ten_thousand_sample_batch_lands_whole():
    store = TagStore()
    batch = {f"area/dev{i // 100}/p{i}": Sample(float(i), GOOD, 1.0, 1.0) for i in range(10_000)}
    store.apply(batch)
    assert len(store) == 10_000
    assert len(store.take_changed()) == 10_000
    assert store.get("area/dev99/p9999").value == 9999.0


def test_remove_forgets_a_tag():
    store = TagStore([Tag("a/b/c")])
    store.update("a/b/c", Sample(1))
    store.remove("a/b/c")
    assert "a/b/c" not in store and store.tag("a/b/c") is None
    assert store.take_changed() == set()
