"""The alarm summary: a table over thousands of alarms, filter, sort, ack/shelve/unshelve."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QDialogButtonBox

from hmi.core.alarms import AlarmState
from hmi.core.tagstore import TagStore
from hmi.qt.alarm_table import NOTE, PRIORITY, STATE, TAG, VALUE
from hmi.qt.alarms import AlarmModel
from hmi.qt.binding import Binder
from hmi.screens.alarm_summary import SUMMARY_SIZE, AlarmSummary, AlarmSummaryDialog
from hmi.screens.shelve_dialog import ShelveDialog
from tests.qt.alarm_support import T0, FakeEngine, status, transition

UNACK, ACK, SHELVED = (
    AlarmState.UNACKNOWLEDGED,
    AlarmState.ACKNOWLEDGED,
    AlarmState.SHELVED,
)
TRIP, LEVEL, FLOW, TEMP = (
    "area1/p101/tripped",
    "area1/t101/level",
    "area1/ft101/flow",
    "area1/t101/temperature",
)


def _plant(model: AlarmModel, filler: int = 0) -> None:
    """Four alarms an operator would recognise, and ``filler`` more (an alarm flood)."""
    model.load_snapshot(
        [
            status(TRIP, UNACK, T0 + 10, priority=1, message="Pump P-101 tripped", value=True),
            status(
                LEVEL,
                ACK,
                T0 + 5,
                priority=1,
                message="Tank T-101 level high",
                value=4.900000095367432,
            ),
            status(FLOW, UNACK, T0 + 7, priority=3, message="Feed flow low", value=0.4),
            status(TEMP, SHELVED, T0 + 1, priority=2, message="Tank T-101 temperature high"),
            status("area1/e101/interlock", AlarmState.NORMAL, T0),
            *(
                status(f"area9/x{i:04d}/pv", UNACK, T0 + 20 + i, priority=4, message="flood")
                for i in range(filler)
            ),
        ]
    )


_open: list[AlarmSummaryDialog] = []


def _summary(qtbot, model: AlarmModel) -> AlarmSummary:
    dialog = AlarmSummaryDialog(model)
    qtbot.addWidget(dialog)  # closed after the test; pytest-qt keeps only a weak reference
    _open[:] = [dialog]  # so keep the window alive until the next test opens one
    dialog.show()
    return dialog.summary


def _shown(summary: AlarmSummary) -> list[str]:
    return [summary.rows.status_at(r).tag for r in range(summary.rows.rowCount())]


def _select(summary: AlarmSummary, *tags: str) -> None:
    selection = summary.table.selectionModel()
    selection.clearSelection()
    for row in range(summary.rows.rowCount()):
        if summary.rows.status_at(row).tag in tags:
            selection.select(
                summary.rows.index(row, 0),
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
            )


def test_lists_every_alarm_but_normal_most_important_first_and_filters(qtbot):
    model = AlarmModel()
    _plant(model, filler=2000)
    summary = _summary(qtbot, model)
    assert summary.source.rowCount() == 2004
    assert _shown(summary)[:3] == [TRIP, FLOW, "area9/x1999/pv"]  # unack, then P, then newest
    assert summary.count.text() == "2004 of 2004 shown, 2002 unacknowledged"

    summary.state_filter.setCurrentText("Shelved")
    assert _shown(summary) == [TEMP]
    assert "shelved until" in summary.rows.index(0, NOTE).data()
    summary.state_filter.setCurrentText("All listed")
    summary.priority_filter.setCurrentIndex(1)  # P1
    assert sorted(_shown(summary)) == [TRIP, LEVEL]
    summary.priority_filter.setCurrentIndex(0)
    summary.text_filter.setText("t-101")  # tag or message, any case
    assert sorted(_shown(summary)) == [LEVEL, TEMP]
    summary.text_filter.setText("")
    summary.state_filter.setCurrentText("Acknowledged")
    assert _shown(summary) == [LEVEL]
    assert summary.rows.index(0, VALUE).data() == "4.9"  # a float32 register, as read


def test_the_count_says_when_the_list_may_be_stale(qtbot):
    model = AlarmModel()
    summary = _summary(qtbot, model)
    model.apply(transition(TRIP, UNACK, T0, priority=1))
    assert summary.count.text() == (
        "1 of 1 shown, 1 unacknowledged (may be stale: no answer from the alarm engine)"
    )
    model.load_snapshot([])
    assert summary.count.text() == "1 of 1 shown, 1 unacknowledged"


def test_sorts_by_any_column_by_value_not_text(qtbot):
    model = AlarmModel()
    _plant(model)
    summary = _summary(qtbot, model)
    summary.table.sortByColumn(TAG, Qt.SortOrder.DescendingOrder)
    assert _shown(summary) == [TEMP, LEVEL, TRIP, FLOW]
    summary.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)  # since: oldest first
    assert _shown(summary) == [TEMP, LEVEL, FLOW, TRIP]
    summary.table.sortByColumn(PRIORITY, Qt.SortOrder.AscendingOrder)
    assert _shown(summary) == [TRIP, FLOW, LEVEL, TEMP]


def test_transitions_update_rows_in_place_and_keep_the_selection(qtbot):
    model = AlarmModel()
    _plant(model, filler=300)
    summary = _summary(qtbot, model)
    _select(summary, LEVEL)
    model.apply(transition(FLOW, ACK, T0 + 30, previous=UNACK, priority=3))
    model.apply(transition(TRIP, AlarmState.NORMAL, T0 + 31, previous=ACK, priority=1))
    model.apply(transition("area1/new/alarm", UNACK, T0 + 32, priority=2))
    assert [s.tag for s in summary.selected()] == [LEVEL]
    assert TRIP not in _shown(summary) and "area1/new/alarm" in _shown(summary)
    assert summary.source.rowCount() == 304
    assert model.status(FLOW).state is ACK
    flow_row = _shown(summary).index(FLOW)
    assert summary.rows.index(flow_row, STATE).data() == "Acknowledged"


def test_a_frame_of_changes_re_sorts_only_the_rows_that_changed(qtbot):
    binder = Binder(TagStore())
    model = AlarmModel(binder)  # as in the application: one update per repaint frame
    _plant(model, filler=200)
    binder.flush()
    summary = _summary(qtbot, model)
    rows = [s.tag for s in summary.source.statuses()]
    spans = []
    summary.source.dataChanged.connect(lambda first, last: spans.append((first.row(), last.row())))
    far = rows[150]
    model.apply(transition(FLOW, ACK, T0 + 9000, previous=UNACK, priority=3))
    model.apply(transition(far, ACK, T0 + 9000, previous=UNACK, priority=4))
    binder.flush()
    # Two signals for the two rows, not one for the 150 between them: in a flood the
    # proxy would re-sort every row of such a span in Python.
    assert sorted(spans) == [(rows.index(FLOW),) * 2, (150, 150)]
    assert summary.rows.index(_shown(summary).index(far), STATE).data() == "Acknowledged"


def test_acknowledge_selected_sends_only_those_waiting(qtbot):
    model = AlarmModel()
    engine = FakeEngine()
    model.service = engine.service()
    _plant(model)
    summary = _summary(qtbot, model)
    _select(summary, TRIP, LEVEL, FLOW)
    assert summary.ack_button.isEnabled() and not summary.unshelve_button.isEnabled()

    async def press() -> None:
        qtbot.mouseClick(summary.ack_button, Qt.MouseButton.LeftButton)
        await engine.wait(1)

    asyncio.run(press())
    assert engine.calls == [("acknowledge", [TRIP, FLOW], "")]


def test_a_refused_acknowledge_is_shown_to_the_operator(qtbot):
    model = AlarmModel()
    model.service = FakeEngine(refuse="PermissionError: viewer may not do this").service()
    _plant(model)
    summary = _summary(qtbot, model)
    _select(summary, TRIP)

    async def press() -> None:
        with qtbot.waitSignal(model.request_failed, timeout=2000):
            summary.acknowledge_selected()
            await asyncio.sleep(0)  # let the request task run (no wall-clock wait)

    asyncio.run(press())
    assert summary.message.text() == "acknowledge refused: viewer may not do this"
    assert summary.message.isVisible()


def test_shelve_asks_reason_and_a_duration_bounded_by_the_engine(qtbot):
    model = AlarmModel()
    engine = FakeEngine()
    model.service = engine.service(max_shelve=2 * 3600.0)
    _plant(model)
    summary = _summary(qtbot, model)
    _select(summary, FLOW, TRIP)
    summary.ask_shelve()
    dialog = summary.findChild(ShelveDialog)
    assert dialog is not None and dialog.tags == [TRIP, FLOW]
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # no reason, no shelving
    assert dialog.minutes.maximum() == 120
    dialog.minutes.setValue(500)
    assert dialog.minutes.value() == 120
    dialog.reason.setText("FT-101 transmitter replaced, WO 4711")
    dialog.minutes.setValue(30)
    assert ok.isEnabled()

    async def accept() -> None:
        ok.click()
        await engine.wait(2)

    asyncio.run(accept())
    reason = "FT-101 transmitter replaced, WO 4711"
    assert engine.calls == [
        ("shelve", TRIP, reason, 1800.0),
        ("shelve", FLOW, reason, 1800.0),
    ]


def test_unshelve_selected(qtbot):
    model = AlarmModel()
    engine = FakeEngine()
    model.service = engine.service()
    _plant(model)
    summary = _summary(qtbot, model)
    _select(summary, TEMP, TRIP)
    assert summary.unshelve_button.isEnabled()

    async def press() -> None:
        summary.unshelve_button.click()
        await engine.wait(1)

    asyncio.run(press())
    assert engine.calls == [("unshelve", TEMP)]


def test_screenshot_of_the_summary(qtbot, tmp_path, theme):
    """A picture to look at: HMI_SCREENSHOTS=<folder> keeps it after the test."""
    model = AlarmModel()
    model.service = FakeEngine().service()
    _plant(model, filler=40)
    dialog = AlarmSummaryDialog(model)
    qtbot.addWidget(dialog)
    dialog.show()
    _select(dialog.summary, FLOW)
    folder = Path(os.environ.get("HMI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    qtbot.waitUntil(lambda: dialog.summary.count.width() >= dialog.summary.count.sizeHint().width())
    image = dialog.grab()
    assert image.save(str(folder / "alarm-summary.png"))
    assert image.size() == SUMMARY_SIZE


def test_the_shell_opens_one_summary_from_the_banner_and_the_nav_bar(qtbot):
    from hmi.core.tagstore import TagStore
    from hmi.screens.shell import MainWindow

    window = MainWindow(None, TagStore())
    qtbot.addWidget(window)
    window.show()
    _plant(window.context.alarms)
    window.context.binder.flush()
    assert window.alarm_banner.top.tag == TRIP
    assert window.alarm_summary is None
    qtbot.mouseClick(window.alarm_banner, Qt.MouseButton.LeftButton)
    summary = window.alarm_summary
    assert summary is not None and summary.isVisible()
    assert _shown(summary.summary)[0] == TRIP
    summary.close()
    window.alarms_button.click()
    assert window.alarm_summary is summary and summary.isVisible()  # one, raised again


def test_the_shelve_note_reads_in_full_and_marks_are_legible(qtbot, theme, qapp):
    from hmi.qt.alarm_table import cell_text
    from hmi.qt.look import MARK_SIZE

    model = AlarmModel()
    model.service = FakeEngine().service()
    _plant(model)
    summary = _summary(qtbot, model)
    qapp.processEvents()
    shelved = model.status(TEMP)
    note = cell_text(shelved, NOTE)
    assert note.startswith("shelved until ") and note.endswith(": transmitter under repair")
    # The Note column at the window's first size holds the whole note (no "shelved until ...").
    width = summary.table.columnWidth(NOTE)
    needed = summary.table.fontMetrics().horizontalAdvance(note) + 12
    assert width >= needed, (width, needed)
    # The priority marks: icons large enough for a number to read.
    assert summary.table.iconSize().height() >= MARK_SIZE
    icon = summary.rows.data(summary.rows.index(0, PRIORITY), Qt.ItemDataRole.DecorationRole)
    assert icon.height() >= MARK_SIZE


def _engine_transitions() -> list[dict]:
    """What the engine publishes (its own alarm machine): LEVEL active at T0+10 and
    acknowledged at T0+70; FLOW active at T0+20 and shelved at T0+130."""
    from hmi.core.alarms import Alarm
    from hmi.core.sample import Sample
    from hmi.core.tag import AlarmLimits

    level = Alarm(LEVEL, AlarmLimits(hi=4.5, priority=1, message="T-101 level high"), now=T0)
    flow = Alarm(FLOW, AlarmLimits(lo=1.0, priority=3, message="Feed flow low"), now=T0)
    out = [
        *level.update(Sample(4.8, source_time=T0 + 10), T0 + 10),
        *flow.update(Sample(0.4, source_time=T0 + 20), T0 + 20),
        *level.acknowledge("al", T0 + 70),
        *flow.shelve("bo", "transmitter fouled", T0 + 3600, T0 + 130),
    ]
    return [t.to_dict() for t in out]


def test_since_is_when_the_alarm_came_ack_and_shelve_have_their_own_columns(qtbot):
    import time

    from hmi.qt.alarm_table import ACKED, COLUMNS, SHELVED, SINCE

    def stamp(when: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))

    model = AlarmModel()
    for payload in _engine_transitions():
        model.apply(payload)
    summary = _summary(qtbot, model)
    headers = [summary.rows.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS))]
    assert headers[SINCE] == "Since" and headers[ACKED] == "Acked"
    assert headers[SHELVED] == "Shelved"

    def cells(tag: str) -> tuple[str, str, str]:
        row = _shown(summary).index(tag)
        return tuple(summary.rows.index(row, c).data() for c in (SINCE, ACKED, SHELVED))

    # Acknowledged a minute later: "Since" still says when it came.
    assert cells(LEVEL) == (stamp(T0 + 10), stamp(T0 + 70), "")
    # Shelved: the shelve time in its own column; the activation time stays.
    assert cells(FLOW) == (stamp(T0 + 20), "", stamp(T0 + 130))
    # Sorting by "Since" orders by activation, not by the last change of state.
    summary.table.sortByColumn(SINCE, Qt.SortOrder.AscendingOrder)
    assert _shown(summary) == [LEVEL, FLOW]
    # Each time reads in full, in the bold of an unacknowledged row (not "2026-12-03 ...").
    from PySide6.QtGui import QFont, QFontMetrics

    bold = QFont(summary.table.font())
    bold.setBold(True)
    needed = QFontMetrics(bold).horizontalAdvance(stamp(T0 + 10)) + 8
    assert all(summary.table.columnWidth(c) >= needed for c in (SINCE, ACKED, SHELVED))


def test_the_value_reads_as_on_the_screens_in_the_tags_format_and_unit(qtbot):
    from hmi.project import load_project
    from tests.widgets.support import DEMO

    model = AlarmModel(Binder(TagStore(load_project(DEMO).tags.values())))
    model.service = FakeEngine().service()
    _plant(model)
    summary = _summary(qtbot, model)
    model.flush()
    shown = {
        summary.rows.status_at(r).tag: summary.rows.index(r, VALUE).data()
        for r in range(summary.rows.rowCount())
    }
    # area1/t101/level has format .2f and unit m; a bool reads ON, never Python's True.
    assert shown[LEVEL] == "4.90 m" and shown[TRIP] == "ON"


def test_the_shelve_dialog_shows_its_whole_example_reason(qtbot):
    dialog = ShelveDialog(["area1/p101/tripped"], 8 * 3600.0)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    field = dialog.reason
    example = field.fontMetrics().horizontalAdvance(field.placeholderText())
    assert field.width() >= example + 12  # the line edit's own margins included
