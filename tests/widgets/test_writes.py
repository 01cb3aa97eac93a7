"""The write path from widgets: rights, limits, pending -> confirmed / rejected / timed out."""

from __future__ import annotations

from PySide6.QtCore import Qt

from hmi.core import CommandResult, CommandState, Sample
from hmi.widgets import CommandButton, SetpointEntry
from tests.widgets.support import demo_store, make_context


def _entry(qtbot, roles=frozenset({"operator"})):
    store = demo_store()
    store.update("area1/lic101/sp", Sample(2.5))
    context = make_context(store, roles)
    entry = SetpointEntry()
    qtbot.addWidget(entry)
    entry.tag = "area1/lic101/sp"
    entry.tag_link.attach(context)
    return entry, store, context


def test_setpoint_goes_pending_then_confirmed(qtbot):
    entry, store, context = _entry(qtbot)
    assert entry.editor.text() == "2.50" and entry.unit.text() == "m"
    entry.editor.setText("3.1")
    assert entry.submit()
    (command,) = context.sink.commands
    assert (command.tag, command.value, command.old_value) == ("area1/lic101/sp", 3.1, 2.5)
    assert entry.status_text.startswith("pending")
    store.update("area1/lic101/sp", Sample(2.5))  # an old value must not overwrite a pending entry
    context.binder.flush()
    assert entry.editor.text() == "3.1"
    context.deliver(CommandResult(command.id, command.tag, CommandState.CONFIRMED, 3.1))
    assert entry.status_text == "confirmed" and entry.editor.text() == "3.10"
    assert entry.status_line.text == "3.10 m confirmed"


def test_setpoint_outside_limits_is_refused_before_sending(qtbot):
    entry, _, context = _entry(qtbot)
    entry.editor.setText("9")
    assert not entry.submit()
    assert context.sink.commands == []
    assert "outside 0.5 .. 4.5 m" in entry.status_text
    assert entry.editor.text() == "2.50"
    entry.editor.setText("abc")
    assert not entry.submit() and "not a number" in entry.status_text


def test_setpoint_failure_shows_the_reason_and_the_real_value(qtbot):
    entry, _, context = _entry(qtbot)
    entry.editor.setText("3")
    entry.submit()
    (command,) = context.sink.commands
    context.deliver(
        CommandResult(command.id, command.tag, CommandState.FAILED, message="device timeout")
    )
    assert entry.status_text == "failed: device timeout"
    assert "device timeout" in entry.toolTip()
    assert entry.editor.text() == "2.50"


def test_viewer_may_not_write_and_sees_why(qtbot):
    entry, _, context = _entry(qtbot, roles=frozenset({"viewer"}))
    assert entry.editor.isReadOnly()
    assert entry.editor.cursor().shape() == Qt.CursorShape.ForbiddenCursor
    assert "Read only" in entry.toolTip() and "needs role" in entry.toolTip()
    entry.editor.setText("3")
    assert not entry.submit() and context.sink.commands == []


def test_command_button_set_toggle_confirm_and_denied(qtbot):
    store = demo_store()
    store.update("area1/p101/start", Sample(False))
    context = make_context(store)
    button = CommandButton()
    qtbot.addWidget(button)
    button.tag = "area1/p101/start"
    button.mode = "toggle"
    button.tag_link.attach(context)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert [c.value for c in context.sink.commands] == [True]
    store.update("area1/p101/start", Sample(True))  # the plant took it
    button.mode = "set"
    button.value = "0"
    button.confirm = True
    button.auto_confirm = False  # the operator says no
    button.click()
    assert len(context.sink.commands) == 1
    button.auto_confirm = True
    button.click()
    assert [c.value for c in context.sink.commands] == [True, False]
    context.log_in("guest", {"viewer"})
    button.click()
    assert len(context.sink.commands) == 2
    assert button.cursor().shape() == Qt.CursorShape.ForbiddenCursor
    assert "Read only" in button.toolTip()


def test_command_button_times_out_visibly(qtbot):
    store = demo_store()
    context = make_context(store)
    context.timeout = 0.05
    button = CommandButton()
    qtbot.addWidget(button)
    button.tag = "area1/p101/reset"
    button.tag_link.attach(context)
    button.click()
    qtbot.waitUntil(lambda: button.status.state is CommandState.TIMED_OUT, timeout=2000)
    assert "timed out" in button.toolTip()
