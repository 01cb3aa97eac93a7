"""A value too long for its label says so; it never loses its leading digits."""

from __future__ import annotations

from hmi.core import Sample
from hmi.widgets import ValueLabel
from tests.widgets.support import NOW, demo_store, make_context


def test_a_value_wider_than_the_label_is_hashes_not_a_wrong_number(qtbot):
    store = demo_store()
    context = make_context(store)
    label = ValueLabel()
    qtbot.addWidget(label)
    label.tag = "area1/t101/level"
    label.chars = 6
    label.tag_link.attach(context)
    label.show()
    store.update("area1/t101/level", Sample(123456.25, source_time=NOW))
    context.binder.flush()
    # right-aligned, a clipped "123456.25 m" would read "56.25 m": never
    assert label.text() == "######"
    label.chars = 11
    store.update("area1/t101/level", Sample(123456.5, source_time=NOW + 1))
    context.binder.flush()
    assert label.text() == "123456.50 m"
