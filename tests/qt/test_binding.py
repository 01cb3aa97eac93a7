"""The repaint timer: coalesced, only changed tags, only bound widgets, no leaks."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from hmi.core import Sample, Tag, TagStore
from hmi.qt.binding import Binder


def test_many_samples_between_frames_cost_one_call(qtbot):
    store = TagStore([Tag("a/b/c")])
    binder = Binder(store)
    owner = QWidget()
    qtbot.addWidget(owner)
    seen = []
    binder.bind(owner, "a/b/c", lambda name, sample: seen.append(sample.value))
    assert seen == [None]  # the initial sample, at once
    for i in range(100):
        store.update("a/b/c", Sample(float(i)))
    assert binder.flush() == 1
    assert seen == [None, 99.0]
    assert binder.flush() == 0  # nothing changed since


def test_only_bound_tags_are_visited_and_unbind_stops_updates(qtbot):
    store = TagStore()
    binder = Binder(store)
    owner = QWidget()
    qtbot.addWidget(owner)
    seen = []
    binder.bind(owner, "a/b/one", lambda n, s: seen.append(n), initial=False)
    store.apply({f"x/y/{i}": Sample(i) for i in range(10_000)} | {"a/b/one": Sample(1)})
    assert binder.flush() == 1
    binder.unbind(owner)
    store.update("a/b/one", Sample(2))
    assert binder.flush() == 0
    assert seen == ["a/b/one"]


def test_deleted_widget_is_forgotten(qtbot):
    store = TagStore()
    binder = Binder(store)
    label = QLabel()
    binder.bind(label, "a/b/c", lambda n, s: None)
    assert binder.bound_count() == 1
    label.deleteLater()
    qtbot.waitUntil(lambda: binder.bound_count() == 0)


def test_timer_repaints_changed_values(qtbot):
    store = TagStore()
    binder = Binder(store, interval_ms=5)
    label = QLabel()
    qtbot.addWidget(label)
    binder.bind(label, "a/b/c", lambda n, s: label.setText(str(s.value)))
    binder.start()
    store.update("a/b/c", Sample(42))
    qtbot.waitUntil(lambda: label.text() == "42")
    binder.stop()
    assert not binder.active


def test_a_frame_updates_widgets_in_the_order_they_were_bound(qtbot):
    # Qt repaints a frame's widgets cheapest when they asked in screen order (issue 17):
    # never in the hash order of the changed set.
    names = [f"a/b/t{i}" for i in range(300)]
    store = TagStore()
    binder = Binder(store)
    owner = QWidget()
    qtbot.addWidget(owner)
    seen: list[str] = []
    for name in names:
        binder.bind(owner, name, lambda n, s: seen.append(n), initial=False)
    store.apply({name: Sample(1) for name in reversed(names)})
    assert binder.flush() == 300 and seen == names  # many changed: all, in order
    seen.clear()
    few = [names[250], names[3], names[120]]
    store.apply({name: Sample(2) for name in few})
    assert binder.flush() == 3 and seen == sorted(few, key=names.index)  # a few: sorted in


def test_a_widget_unbound_during_a_frame_is_not_called_later_in_it(qtbot):
    store = TagStore()
    binder = Binder(store)
    first, second = QWidget(), QWidget()
    qtbot.addWidget(first)
    qtbot.addWidget(second)
    seen: list[str] = []

    def drop_second(name: str, sample: Sample) -> None:
        seen.append(name)
        binder.unbind(second)

    binder.bind(first, "a/b/first", drop_second, initial=False)
    binder.bind(second, "a/b/second", lambda n, s: seen.append(n), initial=False)
    store.apply({"a/b/second": Sample(1), "a/b/first": Sample(1)})
    assert binder.flush() == 1
    assert seen == ["a/b/first"] and binder.bound_tags() == {"a/b/first"}
    binder.bind(second, "a/b/second", lambda n, s: seen.append(n), initial=False)
    store.update("a/b/second", Sample(2))
    assert binder.flush() == 1 and seen[-1] == "a/b/second"  # bound again: called again
