"""The alarm summary for engineers and supervisors: out of service with a reason, and KPIs."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QDialogButtonBox

from hmi.core.alarms import AlarmState
from hmi.core.tagstore import TagStore
from hmi.qt.alarms import AlarmModel
from hmi.qt.context import HmiContext
from hmi.screens.alarm_kpis import AlarmKpiLine
from hmi.screens.alarm_summary import AlarmSummaryDialog
from hmi.screens.service_dialog import ServiceDialog
from tests.qt.alarm_support import T0, FakeEngine, select_rows, status

S = AlarmState
TRIP, LEVEL, IDLE = "area1/p101/tripped", "area1/t101/level", "area1/e101/interlock"
LIMITS = {
    "max_shelve": 3600.0,
    "checks_roles": True,
    "roles": {"remove_from_service": ["admin", "engineer"], "return_to_service": ["engineer"]},
    "kpi": {"chatter_count": 3, "chatter_window": 60.0, "flood_threshold": 10},
}

_open: list[AlarmSummaryDialog] = []


def _summary(qtbot, roles: frozenset[str], engine: FakeEngine | None = None):
    session = HmiContext(TagStore(), user="erin", roles=roles)
    model = session.alarms
    model.service = (engine or FakeEngine()).service()
    model.load_snapshot(
        [
            status(TRIP, S.UNACKNOWLEDGED, T0 + 1, priority=1, message="Pump P-101 tripped"),
            status(LEVEL, S.OUT_OF_SERVICE, T0, priority=2),
            status(IDLE, S.NORMAL, T0),
        ]
    )
    model.load_limits(LIMITS)
    dialog = AlarmSummaryDialog(model, session=session)
    qtbot.addWidget(dialog)
    _open[:] = [dialog, session]  # keep both alive until the next test
    dialog.show()
    return dialog.summary, session


def test_the_engineer_buttons_follow_the_logged_in_users_roles(qtbot):
    summary, session = _summary(qtbot, frozenset({"operator"}))
    assert not summary.remove_button.isVisible() and not summary.return_button.isVisible()
    session.log_in("erin", frozenset({"engineer"}))
    assert summary.remove_button.isVisible() and summary.return_button.isVisible()
    select_rows(summary, TRIP)
    assert summary.remove_button.isEnabled() and not summary.return_button.isEnabled()
    select_rows(summary, LEVEL)
    assert summary.return_button.isEnabled() and not summary.remove_button.isEnabled()
    session.log_in("", frozenset())  # logged out
    assert not summary.remove_button.isVisible()


def test_remove_from_service_needs_a_reason_and_reaches_the_engine(qtbot):
    engine = FakeEngine()
    summary, _ = _summary(qtbot, frozenset({"engineer"}), engine)
    select_rows(summary, TRIP)
    dialog = summary.ask_service(remove=True)
    assert isinstance(dialog, ServiceDialog) and dialog.tags == [TRIP]
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # no reason, no removal
    dialog.reason.setText("  PT-101 replaced, WO 4711 ")
    assert ok.isEnabled()

    async def accept() -> None:
        ok.click()
        await engine.wait(1)

    asyncio.run(accept())
    assert engine.calls == [("remove_from_service", TRIP, "PT-101 replaced, WO 4711")]


def test_a_normal_alarm_is_chosen_by_tag_and_returned_ones_too(qtbot):
    engine = FakeEngine()
    summary, _ = _summary(qtbot, frozenset({"engineer"}), engine)
    summary.table.clearSelection()  # a normal alarm is not listed: nothing to select
    assert summary.remove_button.isEnabled()
    dialog = summary.ask_service(remove=True)
    choices = [dialog.tag_choice.itemText(i) for i in range(dialog.tag_choice.count())]
    assert choices == [IDLE, TRIP]  # not the one already out of service
    dialog.tag_choice.setCurrentText(IDLE)
    dialog.reason.setText("heater maintenance")
    select_rows(summary, LEVEL)
    back = summary.ask_service(remove=False)
    back.reason.setText("transmitter repaired")

    async def accept() -> None:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        await engine.wait(1)
        back.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        await engine.wait(2)

    asyncio.run(accept())
    assert engine.calls == [
        ("remove_from_service", IDLE, "heater maintenance"),
        ("return_to_service", LEVEL, "transmitter repaired"),
    ]


def test_a_refusal_from_the_engine_is_shown(qtbot):
    engine = FakeEngine(refuse="PermissionError: erin may not do this (needs ['engineer'])")
    summary, _ = _summary(qtbot, frozenset({"engineer"}), engine)

    async def run() -> None:
        summary.set_service([TRIP], "testing", remove=True)
        await engine.wait(1)
        await asyncio.sleep(0)

    asyncio.run(run())
    assert summary.message.text().startswith(f"remove {TRIP} from service refused: erin may not")


def test_kpis_are_asked_while_shown_and_a_flood_stands_out(qtbot):
    engine = FakeEngine()
    summary, _ = _summary(qtbot, frozenset({"operator"}), engine)
    line = summary.kpis
    assert line.refreshing
    engine.kpi_answer = {
        "alarms_last_10min": 37,
        "average_per_10min": 2.25,
        "peak_per_10min": 37,
        "flood_fraction": 0.5,
        "chattering": ["area1/ft101/flow", "area1/ft102/flow", "area1/t101/level"],
        "standing": [],
        "annunciated": 30,
        "shelved": 2,
        "suppressed": 1,
        "out_of_service": 1,
    }
    asyncio.run(line.refresh())
    text = line.text()
    assert "Last 10 min: 37 alarms (FLOOD)" in text
    assert "avg 2.2 / peak 37 per 10 min" in text
    assert "chattering 3 (area1/ft101/flow, area1/ft102/flow, +1)" in text
    assert "standing 0" in text
    assert "30 active, 2 shelved, 1 suppressed, 1 out of service" in text
    assert line.font().bold()
    assert "area1/t101/level" in line.toolTip()  # every chattering tag, in the tooltip
    summary.window().hide()
    assert not line.refreshing  # nothing asked while nobody looks


def test_kpis_say_why_they_are_missing(qtbot):
    model = AlarmModel()  # no engine connected
    line = AlarmKpiLine(model)
    qtbot.addWidget(line)
    asyncio.run(line.refresh())
    assert line.text() == "KPIs unavailable: no alarm service connected"
