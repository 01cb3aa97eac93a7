"""AlarmBanner and AlarmList read the session's alarm model; Ack goes to the engine."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QPoint, Qt

from hmi.core.alarms import AlarmState, Level
from hmi.qt.alarms import AlarmModel
from hmi.widgets import AlarmBanner, AlarmList
from tests.qt.alarm_support import T0, FakeEngine, transition
from tests.widgets.support import demo_store, make_context

TRIP, FLOW, LEVEL = "area1/p101/tripped", "area1/ft101/flow", "area1/t101/level"
UNACK, ACK = AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED


def _flood(model: AlarmModel) -> None:
    model.apply(transition(FLOW, UNACK, T0, priority=2, message="Feed flow high"))
    model.apply(
        transition(TRIP, UNACK, T0 + 1, priority=1, message="Pump P-101 tripped", level=Level.STATE)
    )
    model.apply(transition(LEVEL, ACK, T0 + 2, priority=1, message="Tank level high"))


def test_banner_without_a_session_is_empty_and_harmless(qtbot):
    banner = AlarmBanner()  # what Designer builds
    qtbot.addWidget(banner)
    # No engine, no knowledge: never "no alarms", which an operator would trust.
    assert banner.text() == "Alarm state unknown: no answer from the alarm engine"
    assert not banner.ack_button.isEnabled()
    banner.acknowledge_shown()  # nothing to do, nothing raised
    assert not banner.grab().isNull()


def test_banner_says_no_active_alarms_only_after_the_engine_answered(qtbot):
    context = make_context(demo_store())
    banner = AlarmBanner()
    qtbot.addWidget(banner)
    banner.attach(context)
    context.alarms.load_snapshot([])
    context.binder.flush()
    assert banner.text() == "No active alarms"
    context.alarms.lost()  # the broker went silent
    context.binder.flush()
    assert banner.text().startswith("Alarm state unknown")


def test_banner_shows_the_most_important_unacknowledged_and_counts(qtbot):
    context = make_context(demo_store())
    banner = AlarmBanner()
    qtbot.addWidget(banner)
    banner.attach(context)
    _flood(context.alarms)
    assert banner.top is None  # coalesced: nothing before the frame
    context.binder.flush()
    assert banner.top.tag == TRIP and banner.top.priority == 1
    assert banner.text().startswith("P1 ") and "Pump P-101 tripped" in banner.text()
    assert "(+1 more)" in banner.text()
    # A discrete alarm's message says it all; an analog one names its limit.
    assert "UNACK  Pump P-101 tripped  [area1/p101/tripped]" in banner.text()
    assert "UNACK  HI  Feed flow high" in banner.line_text(banner.shown[1])
    assert banner.waiting() == {1: 1, 2: 1, 3: 0, 4: 0}
    assert [a.tag for a in banner.shown] == [TRIP, FLOW]  # two lines, unacknowledged first
    assert not banner.ack_button.isEnabled()  # no engine connected: nothing to send to

    context.alarms.apply(transition(TRIP, ACK, T0 + 3, previous=UNACK, priority=1))
    context.alarms.apply(transition(FLOW, ACK, T0 + 3, previous=UNACK, priority=2))
    context.binder.flush()
    assert banner.top is None
    assert banner.text() == "No unacknowledged alarms (3 active)"


def test_banner_ack_button_acknowledges_what_it_shows(qtbot):
    context = make_context(demo_store())
    engine = FakeEngine()
    context.alarms.service = engine.service()
    banner = AlarmBanner()
    qtbot.addWidget(banner)
    banner.attach(context)
    _flood(context.alarms)
    context.binder.flush()
    assert banner.ack_button.isEnabled()

    async def press() -> None:
        qtbot.mouseClick(banner.ack_button, Qt.MouseButton.LeftButton)
        await engine.wait(1)

    asyncio.run(press())
    assert engine.calls == [("acknowledge", [TRIP, FLOW], "")]


def test_clicking_the_banner_asks_for_the_alarm_summary(qtbot):
    context = make_context(demo_store())
    banner = AlarmBanner()
    qtbot.addWidget(banner)
    banner.attach(context)
    with qtbot.waitSignal(context.alarms.summary_requested, timeout=1000):
        qtbot.mouseClick(banner, Qt.MouseButton.LeftButton, pos=QPoint(40, 10))


def test_alarm_list_follows_the_model_only_while_attached(qtbot):
    context = make_context(demo_store())
    engine = FakeEngine()
    context.alarms.service = engine.service()
    alarm_list = AlarmList()
    qtbot.addWidget(alarm_list)
    alarm_list.resize(600, 300)
    alarm_list.tag_link.attach(context)
    _flood(context.alarms)
    context.binder.flush()
    assert [a.tag for a in alarm_list.items] == [TRIP, FLOW, LEVEL]

    alarm_list.tag_link.detach()  # its screen is hidden: it costs nothing
    context.alarms.apply(transition(TRIP, ACK, T0 + 5, previous=UNACK, priority=1))
    context.binder.flush()
    assert alarm_list.items[0].state is UNACK
    alarm_list.tag_link.attach(context)  # shown again: catches up at once
    assert alarm_list.items[0].tag == FLOW

    async def double_click() -> None:
        qtbot.mouseDClick(alarm_list, Qt.MouseButton.LeftButton, pos=QPoint(200, 26 + 13))
        await engine.wait(1)

    asyncio.run(double_click())
    assert engine.calls == [("acknowledge", [FLOW], "")]


def test_banner_lines_property_sets_how_many_alarms_it_shows(qtbot):
    context = make_context(demo_store())
    banner = AlarmBanner()
    qtbot.addWidget(banner)
    banner.attach(context)
    _flood(context.alarms)
    context.binder.flush()
    short = banner.sizeHint().height()
    banner.setProperty("lines", 3)  # as Designer's property editor does
    assert [a.tag for a in banner.shown] == [TRIP, FLOW, LEVEL]
    assert banner.sizeHint().height() > short


def test_banner_never_says_a_bare_no_alarms_while_a_p1_is_shelved(qtbot, tmp_path):
    context = make_context(demo_store())
    banner = AlarmBanner()
    qtbot.addWidget(banner)
    banner.resize(1200, banner.sizeHint().height())
    banner.attach(context)
    context.alarms.load_snapshot([])
    context.alarms.apply(transition(TRIP, UNACK, T0, priority=1, level=Level.STATE))
    context.alarms.apply(
        transition(TRIP, AlarmState.SHELVED, T0 + 1, previous=UNACK, priority=1, level=Level.STATE)
    )
    context.binder.flush()
    assert banner.items == []
    assert banner.text() == "No active alarms; 1 shelved (P1)"
    context.alarms.apply(
        transition(FLOW, AlarmState.OUT_OF_SERVICE, T0 + 2, previous=UNACK, priority=3)
    )
    context.binder.flush()
    assert banner.text() == "No active alarms; 1 shelved (P1), 1 out of service (P3)"
    # With something active, the count stays in view under the totals.
    context.alarms.apply(transition(LEVEL, UNACK, T0 + 3, priority=2))
    context.binder.flush()
    assert banner.hidden_text() == "1 shelved (P1), 1 out of service (P3)"
    assert banner.grab().save(str(tmp_path / "banner-shelved.png"))


def test_the_banner_time_is_when_the_alarm_came_not_when_it_was_acknowledged(qtbot):
    import time

    from hmi.core.alarms import Alarm
    from hmi.core.sample import Sample
    from hmi.core.tag import AlarmLimits

    context = make_context(demo_store())
    banner = AlarmBanner()
    qtbot.addWidget(banner)
    banner.attach(context)
    trip = Alarm(TRIP, AlarmLimits(state=True, priority=1, message="Pump P-101 tripped"), now=T0)
    level = Alarm(LEVEL, AlarmLimits(hi=4.5, priority=2, message="Tank level high"), now=T0)
    for t in [
        *trip.update(Sample(True, source_time=T0 + 10), T0 + 10),
        *level.update(Sample(4.8, source_time=T0 + 20), T0 + 20),
        *trip.acknowledge("al", T0 + 600),  # ten minutes later
    ]:
        context.alarms.apply(t.to_dict())
    context.binder.flush()
    came = time.strftime("%H:%M:%S", time.localtime(T0 + 10))
    acked = time.strftime("%H:%M:%S", time.localtime(T0 + 600))
    line = next(banner.line_text(a) for a in banner.shown if a.tag == TRIP)
    assert line.startswith(f"{came}  ACK  ") and acked not in line
    # The acknowledged P1 stays below the waiting P2 (unacknowledged first), and an ack
    # does not make it "newer" than alarms that came after it.
    assert [a.tag for a in banner.shown] == [LEVEL, TRIP]


def test_the_banner_and_list_repaint_when_the_engine_first_answers_with_no_alarms(qtbot, qapp):
    """The engine's first answer "no alarms" changes no line: the banner used to keep
    painting "Alarm state unknown" on screen (a grab repaints, the screen did not)."""
    from PySide6.QtCore import QEvent, QObject

    class Paints(QObject):
        count = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                Paints.count += 1
            return False

    context = make_context(demo_store())
    banner, alarms = AlarmBanner(), AlarmList()
    paints = Paints()
    for widget in (banner, alarms):
        qtbot.addWidget(widget)
        widget.resize(800, 120)
        widget.tag_link.attach(context)
        widget.show()
        qtbot.waitExposed(widget)
    qapp.processEvents()
    for widget in (banner, alarms):
        widget.installEventFilter(paints)
    Paints.count = 0
    context.alarms.load_snapshot([])
    context.binder.flush()
    qapp.processEvents()
    assert banner.text() == "No active alarms"
    assert Paints.count >= 2  # both painted the engine's answer
