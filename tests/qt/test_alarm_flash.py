"""Unacknowledged alarms flash at 1 Hz from one timer per session, only while one waits."""

from __future__ import annotations

from hmi.core.alarms import AlarmState
from hmi.qt.alarm_marks import FLASH_HALF_PERIOD_MS
from hmi.qt.look import AlarmMark
from hmi.widgets import AlarmBanner, ValueLabel
from tests.qt.alarm_support import T0, transition
from tests.widgets.support import demo_store, make_context

LEVEL, FLOW = "area1/t101/level", "area1/ft101/flow"
S = AlarmState


def _session(qtbot):
    context = make_context(demo_store())
    context.alarms.load_snapshot([])
    labels = {}
    for tag in (LEVEL, FLOW):
        label = ValueLabel()
        qtbot.addWidget(label)
        label.tag = tag
        label.tag_link.attach(context)
        labels[tag] = label
    return context, labels


def test_off_unless_the_application_turns_it_on(qtbot):
    context, _ = _session(qtbot)
    marks = context.alarms.marks
    context.alarms.apply(transition(LEVEL, S.UNACKNOWLEDGED, T0, priority=1))
    context.binder.flush()
    assert not marks.flash and not marks._timer.isActive()  # tests and Designer: steady
    assert marks.get(LEVEL) == AlarmMark(1, unacknowledged=True)


def test_flashes_waiting_alarms_only_and_stops_when_none_waits(qtbot):
    context, labels = _session(qtbot)
    marks = context.alarms.marks
    marks.flash = True
    assert not marks._timer.isActive()  # nothing waits: no timer at all
    context.alarms.apply(transition(LEVEL, S.UNACKNOWLEDGED, T0, priority=1))
    context.alarms.apply(transition(FLOW, S.ACKNOWLEDGED, T0, priority=2))
    context.binder.flush()
    assert marks._timer.isActive() and marks._timer.interval() == FLASH_HALF_PERIOD_MS
    told: list[str] = []
    for label in labels.values():
        label.tag_link._on_alarm = told.append
        label.tag_link.attach(context)
    told.clear()
    with qtbot.waitSignal(marks.flashed, timeout=2 * FLASH_HALF_PERIOD_MS):
        pass
    assert not marks.lit
    assert told == [LEVEL]  # the acknowledged alarm's widget is not touched
    assert marks.get(LEVEL).dim and not marks.get(FLOW).dim
    # Acknowledged: nothing waits, the timer stops in the bright half.
    context.alarms.apply(
        transition(LEVEL, S.ACKNOWLEDGED, T0 + 1, previous=S.UNACKNOWLEDGED, priority=1)
    )
    context.binder.flush()
    assert not marks._timer.isActive() and marks.lit
    assert marks.get(LEVEL) == AlarmMark(1)


def test_the_banner_repaints_on_the_flash_only_while_it_shows_a_waiting_alarm(qtbot):
    context, _ = _session(qtbot)
    banner = AlarmBanner()
    qtbot.addWidget(banner)
    banner.resize(900, 60)
    banner.attach(context)
    banner.show()
    context.alarms.apply(transition(LEVEL, S.UNACKNOWLEDGED, T0, priority=1))
    context.binder.flush()
    qtbot.waitExposed(banner)
    bright = banner.grab().toImage()
    marks = context.alarms.marks
    marks.flash = True
    with qtbot.waitSignal(marks.flashed, timeout=2 * FLASH_HALF_PERIOD_MS):
        pass
    assert banner.grab().toImage() != bright  # the mark went hollow, the text stayed
    marks.flash = False
    assert marks.lit and banner.grab().toImage() == bright
