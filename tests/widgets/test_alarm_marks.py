"""Value widgets mark their tag's alarm as the alarm engine sees it, not by their own limits.

Delays, deadband, shelving, suppression, out of service and acknowledgement are the engine's
business; a widget shows the priority of an annunciated alarm, unacknowledged apart from
acknowledged, and nothing for an alarm hidden on purpose. Only with no engine behind the
session (a preview) does it judge the limits itself.
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

from hmi.core import Sample
from hmi.core.alarms import AlarmState, Level
from hmi.qt.look import NO_MARK, AlarmMark, QualityOverlay
from hmi.qt.stock import bind_stock_widget
from hmi.widgets import AnalogIndicator, Gauge, Pump, StateIndicator, Tank, ValueLabel
from tests.qt.alarm_support import T0, FakeEngine, transition
from tests.widgets.support import NOW, demo_store, feed_normal, make_context

LEVEL, TRIP = "area1/t101/level", "area1/p101/tripped"
S = AlarmState


def _session(engine: bool = True):
    store = demo_store()
    feed_normal(store)
    context = make_context(store)
    if engine:
        context.alarms.service = FakeEngine().service()
    return store, context


def _label(qtbot, context, tag=LEVEL):
    label = ValueLabel()
    qtbot.addWidget(label)
    label.tag = tag
    label.tag_link.attach(context)
    label.show()
    return label


def _mark(label: ValueLabel) -> AlarmMark:
    overlay = label.findChild(QualityOverlay)
    return overlay.mark if overlay is not None and overlay.isVisible() else NO_MARK


def test_a_value_beyond_its_limit_is_no_alarm_until_the_engine_says_so(qtbot):
    store, context = _session()
    label = _label(qtbot, context)
    # Above HI (4.2), but the engine's on-delay or deadband has not confirmed it.
    store.update(LEVEL, Sample(4.4, source_time=NOW))
    context.binder.flush()
    assert _mark(label) == NO_MARK
    context.alarms.apply(transition(LEVEL, S.UNACKNOWLEDGED, T0, priority=1))
    assert _mark(label) == NO_MARK  # coalesced: shown with the next frame
    context.binder.flush()
    assert _mark(label) == AlarmMark(1, unacknowledged=True)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (S.UNACKNOWLEDGED, AlarmMark(2, unacknowledged=True)),
        (S.ACKNOWLEDGED, AlarmMark(2)),
        (S.RETURNED_UNACKNOWLEDGED, AlarmMark(2, unacknowledged=True, returned=True)),
        (S.SHELVED, NO_MARK),
        (S.SUPPRESSED, NO_MARK),
        (S.OUT_OF_SERVICE, NO_MARK),
        (S.NORMAL, NO_MARK),
    ],
)
def test_the_mark_follows_the_engine_state(qtbot, state, expected):
    store, context = _session()
    label = _label(qtbot, context)
    store.update(LEVEL, Sample(4.4, source_time=NOW))  # in alarm by the limits, whatever
    context.alarms.apply(transition(LEVEL, S.UNACKNOWLEDGED, T0, priority=2))
    context.binder.flush()
    context.alarms.apply(transition(LEVEL, state, T0 + 1, previous=S.UNACKNOWLEDGED, priority=2))
    context.binder.flush()
    assert _mark(label) == expected


def test_without_an_engine_the_limits_are_judged_locally(qtbot):
    store, context = _session(engine=False)  # Designer's preview: no alarm engine at all
    label = _label(qtbot, context)
    store.update(LEVEL, Sample(4.4, source_time=NOW))
    context.binder.flush()
    assert _mark(label) == AlarmMark(2)
    # An engine's snapshot arrives: from now on its word counts (here: no alarm yet).
    context.alarms.load_snapshot([])
    context.binder.flush()
    assert _mark(label) == NO_MARK


def test_connecting_an_engine_replaces_the_local_judgement_at_once(qtbot):
    store, context = _session(engine=False)
    label = _label(qtbot, context)
    store.update(LEVEL, Sample(4.4, source_time=NOW))
    context.binder.flush()
    assert _mark(label).priority == 2
    context.alarms.service = FakeEngine().service()  # the app connects the engine
    context.binder.flush()
    assert _mark(label) == NO_MARK  # nothing confirmed by the engine (yet)


def test_only_shown_widgets_of_changed_tags_are_told_once_per_frame(qtbot):
    _, context = _session()
    level = _label(qtbot, context)
    other = _label(qtbot, context, "area1/t101/temperature")
    context.binder.flush()  # the engine just connected: every widget looked once
    calls: list[str] = []
    level.tag_link._on_alarm = calls.append  # spy on what the frame tells it
    other.tag_link._on_alarm = calls.append
    level.tag_link.attach(context)
    other.tag_link.attach(context)
    assert calls == [LEVEL, "area1/t101/temperature"]  # attached: each looks once
    calls.clear()
    for t in range(50):  # a burst on one tag within one frame
        context.alarms.apply(transition(LEVEL, S.UNACKNOWLEDGED, T0 + t, priority=2))
    context.binder.flush()
    assert calls == [LEVEL]
    level.tag_link.detach()  # its screen is hidden: not told any more
    context.alarms.apply(transition(LEVEL, S.ACKNOWLEDGED, T0 + 60, previous=S.UNACKNOWLEDGED))
    context.binder.flush()
    assert calls == [LEVEL]
    assert context.alarms.marks.watched() == 1


def test_a_deleted_widget_is_forgotten(qtbot):
    _, context = _session()
    label = ValueLabel()  # not given to qtbot: it is deleted here
    label.tag = LEVEL
    label.tag_link.attach(context)
    assert context.alarms.marks.watched() == 1
    label.deleteLater()
    qtbot.waitUntil(lambda: context.alarms.marks.watched() == 0)
    context.alarms.apply(transition(LEVEL, S.UNACKNOWLEDGED, T0))
    context.binder.flush()  # nothing calls into the deleted widget


@pytest.mark.parametrize(
    ("cls", "tag", "props"),
    [
        (Tank, LEVEL, {}),
        (Gauge, LEVEL, {}),
        (AnalogIndicator, LEVEL, {}),
        (StateIndicator, TRIP, {"states": "0=Normal;1=TRIPPED"}),
        (Pump, "area1/p101/running", {"faultTag": TRIP}),
    ],
)
def test_painted_widgets_show_unacknowledged_acknowledged_and_hidden(
    qtbot, tmp_path, theme, cls, tag, props
):
    store, context = _session()
    widget = cls()
    qtbot.addWidget(widget)
    widget.tag = tag
    for key, value in props.items():
        widget.setProperty(key, value)
    widget.tag_link.attach(context)
    widget.show()
    alarm = TRIP if cls is Pump else tag
    store.update(alarm, Sample(4.4 if alarm == LEVEL else True, source_time=NOW))
    context.binder.flush()
    images = {}
    for state in (S.NORMAL, S.UNACKNOWLEDGED, S.ACKNOWLEDGED, S.SHELVED):
        level = Level.STATE if alarm == TRIP else Level.HI
        level = Level.NONE if state is S.NORMAL else level
        context.alarms.apply(transition(alarm, state, T0 + len(images), priority=1, level=level))
        context.binder.flush()
        image = widget.grab()
        image.save(str(tmp_path / f"{cls.__name__}-{state.value}.png"))
        images[state] = image.toImage()
    assert images[S.UNACKNOWLEDGED] != images[S.ACKNOWLEDGED] != images[S.NORMAL]
    assert images[S.SHELVED] == images[S.NORMAL]  # shelved on purpose: no mark


def test_a_fault_tag_without_an_alarm_still_marks_the_fault(qtbot):
    store, context = _session()
    pump = Pump()
    qtbot.addWidget(pump)
    pump.tag = "area1/p101/running"
    pump.faultTag = "area1/p101/reset"  # a boolean with no alarm defined
    pump.tag_link.attach(context)
    store.update("area1/p101/reset", Sample(True, source_time=NOW))
    context.binder.flush()
    assert pump.fault_mark() == AlarmMark(2)


def test_stock_widgets_mark_the_engine_state(qtbot):
    store, context = _session()
    label = QLabel()
    qtbot.addWidget(label)
    label.setProperty("tag", LEVEL)
    binding = bind_stock_widget(label, context)
    label.show()
    store.update(LEVEL, Sample(4.4, source_time=NOW))
    context.binder.flush()
    assert binding.overlay is None  # beyond the limit, but no alarm from the engine
    context.alarms.apply(transition(LEVEL, S.UNACKNOWLEDGED, T0, priority=3))
    context.binder.flush()
    assert binding.overlay.isVisible() and binding.overlay.mark == AlarmMark(3, True)
    context.alarms.apply(transition(LEVEL, S.SHELVED, T0 + 1, previous=S.UNACKNOWLEDGED))
    context.binder.flush()
    assert not binding.overlay.isVisible()
