"""The alarm history view: journal rows for a range and tag, CSV written on this machine."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt

from PySide6.QtCore import Qt

from hmi.core.alarms import AlarmState
from hmi.screens.alarm_history import CSV_HEADER, AlarmHistoryDialog
from tests.qt.alarm_support import T0, FakeEngine, transition

LEVEL, TRIP = "area1/t101/level", "area1/p101/tripped"
UNACK, ACK = AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED


def _engine() -> FakeEngine:
    engine = FakeEngine()
    engine.rows = [
        transition(LEVEL, UNACK, T0 + 1, value=4.61, message="Tank level high"),
        transition(TRIP, UNACK, T0 + 2, value=True, message="Pump tripped"),
        transition(LEVEL, ACK, T0 + 3, previous=UNACK, value=4.7, message="Tank level high")
        | {"actor": "olga", "comment": "checking the inlet valve"},
    ]
    return engine


def _dialog(qtbot, engine: FakeEngine) -> AlarmHistoryDialog:
    dialog = AlarmHistoryDialog(engine.history, now=lambda: T0 + 10)
    qtbot.addWidget(dialog)
    return dialog


def test_refresh_asks_for_the_range_and_tag_and_lists_the_rows(qtbot):
    engine = _engine()
    dialog = _dialog(qtbot, engine)
    dialog.tag.setText(f" {LEVEL} ")
    dialog.limit.setValue(500)
    assert asyncio.run(dialog.refresh()) == 2
    assert engine.calls == [("history", T0 + 10 - 86400, T0 + 70, LEVEL, 500)]
    model = dialog.model
    assert model.rowCount() == 2
    assert model.index(1, 2).data() == "acknowledge"
    assert model.index(1, 8).data() == "olga"
    assert model.index(1, 7).data() == "4.7" and model.index(1, 5).data() == "HI"
    assert (
        model.index(0, 0)
        .data()
        .startswith(dt.datetime.fromtimestamp(T0 + 1).strftime("%Y-%m-%d %H:%M:%S"))
    )
    assert dialog.message.text() == "2 journal rows"


def test_a_failed_query_is_shown_not_raised(qtbot):
    engine = FakeEngine(refuse="RpcTimeout: no reply within 15 s")
    dialog = _dialog(qtbot, engine)
    assert asyncio.run(dialog.refresh()) == 0
    assert "Could not load the alarm history" in dialog.error.text()
    assert dialog.error.objectName() == "AlarmMessage"  # the theme draws it red


def test_export_writes_the_rows_shown_as_csv(qtbot, tmp_path):
    dialog = _dialog(qtbot, _engine())
    asyncio.run(dialog.refresh())
    path = tmp_path / "history.csv"
    assert dialog.export(path) == 3
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == 4
    record = dict(zip(CSV_HEADER, rows[3], strict=True))
    assert record["tag"] == LEVEL and record["event"] == "acknowledge"
    assert record["actor"] == "olga" and record["comment"] == "checking the inlet valve"
    assert record["value"] == "4.7" and float(record["time"]) == T0 + 3
    assert dt.datetime.fromisoformat(record["time_iso"]).timestamp() == T0 + 3
    assert dict(zip(CSV_HEADER, rows[2], strict=True))["value"] == "true"  # JSON, typed
    assert dialog.message.text() == f"3 rows exported to {path}" and dialog.error.text() == ""


def test_export_to_a_path_that_cannot_be_written_says_why(qtbot, tmp_path):
    dialog = _dialog(qtbot, _engine())
    asyncio.run(dialog.refresh())
    path = tmp_path / "no-such-folder" / "history.csv"
    assert dialog.export(path) == -1
    assert dialog.error.text().startswith(f"Could not write {path}: No such file")
    assert not path.exists()


def test_the_shell_opens_the_history_of_the_last_day_up_to_now(qtbot):
    import time

    from hmi.core.tagstore import TagStore
    from hmi.screens.shell import MainWindow

    window = MainWindow(None, TagStore())
    qtbot.addWidget(window)
    engine = _engine()
    window.context.alarms.service = engine.service()
    history_button = window.open_alarm_summary().summary.history_button

    async def open_history() -> AlarmHistoryDialog:
        history_button.click()  # History ... in the alarm summary
        await engine.wait(1)
        async with asyncio.timeout(5):
            while window.alarm_history.model.rowCount() == 0:
                await asyncio.sleep(0)
        return window.alarm_history

    started = time.time()
    dialog = asyncio.run(open_history())
    _, since, until, tag, limit = engine.calls[0]
    assert abs(since - (started - 86400)) < 5 and abs(until - (started + 60)) < 5
    assert (tag, limit) == (None, 10_000)
    assert dialog.isVisible() and dialog.model.rowCount() == 3


def test_journal_values_read_in_the_tags_format_and_unit(qtbot):
    from hmi.project import load_project
    from tests.widgets.support import DEMO

    tags = load_project(DEMO).tags
    dialog = AlarmHistoryDialog(_engine().history, now=lambda: T0 + 10, tag_of=tags.get)
    qtbot.addWidget(dialog)
    asyncio.run(dialog.refresh())
    model = dialog.model
    value = next(
        c
        for c in range(model.columnCount())
        if model.headerData(c, Qt.Orientation.Horizontal) == "Value"
    )
    assert [model.index(r, value).data() for r in range(model.rowCount())] == [
        "4.61 m",
        "ON",
        "4.70 m",
    ]
