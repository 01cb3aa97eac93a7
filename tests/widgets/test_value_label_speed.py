"""The ValueLabel's lean path per sample (issue 17) shows exactly what it showed before.

The label formats with a formatter made once per tag, skips a value equal to the one it
shows and a text equal to the one it shows; none of that may change what an operator reads.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import Qt

from hmi.core import Sample, Tag, TagStore
from hmi.core.format import format_value, formatter
from hmi.core.tag import DataType
from hmi.widgets import ValueLabel
from tests.widgets.support import NOW, make_context

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 2.0, 3.200000047683716, float("nan")]),
    st.text(max_size=8),
)
_SPECS = st.sampled_from(["", ".2f", ".0f", "d", "x", ",", ".3e", "c", "s", ">8.1f", "%"])


@given(
    value=_VALUES,
    data_type=st.sampled_from(list(DataType)),
    tag_format=_SPECS,
    own_format=_SPECS,
    unit=st.sampled_from(["", "m", "%"]),
    with_unit=st.booleans(),
    no_tag=st.booleans(),
)
def test_the_formatter_says_what_format_value_says(
    value, data_type, tag_format, own_format, unit, with_unit, no_tag
):
    tag = None if no_tag else Tag("a/b/c", data_type, unit=unit, format=tag_format)

    def outcome(call):
        try:
            return call()
        except Exception as exc:  # the same error, if the general path raises one
            return type(exc)

    expected = outcome(lambda: format_value(value, tag, own_format, with_unit))
    got = outcome(lambda: formatter(tag, own_format, with_unit)(value))
    assert got == expected


def _label(qtbot, store: TagStore, name: str, **props) -> ValueLabel:
    label = ValueLabel()
    qtbot.addWidget(label)
    label.tag = name
    for key, value in props.items():
        label.setProperty(key, value)
    return label


def test_a_value_shown_is_not_formatted_or_set_again(qtbot, monkeypatch):
    store = TagStore([Tag("a/b/level", DataType.FLOAT32, unit="m", format=".2f")])
    context = make_context(store)
    label = _label(qtbot, store, "a/b/level")
    label.tag_link.attach(context)
    texts: list[str] = []
    readout = label._readout
    set_text = readout.set_text
    monkeypatch.setattr(readout, "set_text", lambda text: (texts.append(text), set_text(text)))
    for value in (2.0, 2.0, 2.0001, 2.004, 3.0):
        store.update("a/b/level", Sample(value, source_time=NOW))
        context.binder.flush()
    # 2.0001 reads 2.00 like 2.0: formatted again (another value) but not set again.
    assert texts == ["2.00 m", "3.00 m"]
    assert label.text() == "3.00 m"


def test_equal_values_of_another_type_read_as_their_type(qtbot):
    store = TagStore([Tag("a/b/any", DataType.STRING, format="")])
    context = make_context(store)
    label = _label(qtbot, store, "a/b/any")
    label.tag_link.attach(context)
    shown = []
    for value in (1, True, 1.0, 1, 0, False):
        store.update("a/b/any", Sample(value))
        context.binder.flush()
        shown.append(label.text())
    assert shown == ["1", "ON", "1", "1", "0", "OFF"]


def test_properties_and_the_session_make_the_text_again(qtbot):
    store = TagStore([Tag("a/b/level", DataType.FLOAT32, unit="m", format=".2f")])
    store.update("a/b/level", Sample(2.5))
    label = _label(qtbot, store, "a/b/level", format=".1f")
    assert label.text() == "----"  # no session yet: no value, no unit
    label.tag_link.attach(make_context(store))
    assert label.text() == "2.5 m"  # the tag's unit once a session defines the tag
    label.format = ".3f"
    assert label.text() == "2.500 m"
    label.showUnit = False
    label.format = ""
    assert label.text() == "2.50"  # the tag's own format again, without the unit
    label.tag_link.detach()
    store.update("a/b/level", Sample(9.0))
    assert label.text() == "2.50"  # detached: the last text stays


def test_a_text_value_is_shown_as_text_never_as_markup(qtbot):
    store = TagStore([Tag("a/b/msg", DataType.STRING)])
    store.update("a/b/msg", Sample("<b>HIGH</b>"))
    label = _label(qtbot, store, "a/b/msg", showUnit=False)
    label.tag_link.attach(make_context(store))
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert label.text() == "<b>HIGH</b>"


def test_nan_and_none_read_no_value_and_marks_still_follow_quality(qtbot):
    store = TagStore([Tag("a/b/level", DataType.FLOAT32, unit="m", format=".2f")])
    context = make_context(store)
    label = _label(qtbot, store, "a/b/level")
    label.tag_link.attach(context)
    store.update("a/b/level", Sample(math.nan))
    context.binder.flush()
    assert label.text() == "---- m"
    store.update("a/b/level", Sample(1.0))
    context.binder.flush()
    assert label.text() == "1.00 m"
    assert label._readout.quality.is_good
