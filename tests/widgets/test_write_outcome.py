"""Every write says how it went, in words, beside the control that sent it (issue 14, item 6).

What the operator reads: the status line under a SetpointEntry, CommandButton or bound
stock button (pending, then confirmed, rejected, failed, timed out or overridden, with the
reason), the value the control shows afterwards (the device's, never the one written),
and a line that clears after a while or when the next entry starts.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from hmi.core import CommandResult, CommandState, Sample
from hmi.qt import status_line as status_line_module
from hmi.widgets import CommandButton, SetpointEntry
from tests.widgets.support import demo_store, make_context

SP = "area1/lic101/sp"
VALVE = "area1/fv101/command"


@pytest.fixture
def screen(qtbot) -> QWidget:
    """A screen to put controls on (their status lines are its children)."""
    widget = QWidget()
    widget.resize(600, 300)
    qtbot.addWidget(widget)  # a weak reference: the fixture keeps it alive
    widget.show()
    return widget


def _entry(screen: QWidget, tag: str = SP, value: float = 2.5):
    store = demo_store()
    store.update(tag, Sample(value))
    context = make_context(store)
    entry = SetpointEntry(screen)
    entry.setGeometry(40, 40, 170, 30)
    entry.tag = tag
    entry.tag_link.attach(context)
    entry.show()
    return entry, store, context


def _line_under(control: QWidget) -> QRect:
    line = control.status_line
    assert line.isVisible(), "the status line is not shown"
    assert line.parentWidget() is control.parentWidget(), "not on the control's screen"
    return line.geometry()


def test_a_setpoint_says_pending_then_confirmed_under_the_entry(screen):
    entry, store, context = _entry(screen)
    entry.editor.setText("3.1")
    entry.submit()
    assert entry.status_line.text == "3.10 m sent, waiting for the plant"
    line = _line_under(entry)
    # Right under the entry, left-aligned with it, at least as wide: beside what sent it.
    assert line.top() >= entry.geometry().bottom() and line.top() - entry.geometry().bottom() < 6
    assert line.left() == entry.x() and line.width() >= entry.width()
    (command,) = context.sink.commands
    store.update(SP, Sample(3.1))
    context.deliver(CommandResult(command.id, SP, CommandState.CONFIRMED, 3.1))
    assert entry.status_line.text == "3.10 m confirmed"
    assert entry.status_line.state is CommandState.CONFIRMED
    assert entry.editor.text() == "3.10"


def test_an_out_of_range_entry_says_why_in_words_and_sends_nothing(screen):
    entry, _, context = _entry(screen)
    entry.editor.setText("9")
    assert not entry.submit()
    assert context.sink.commands == []
    assert entry.status_line.text == "Not sent: 9 is outside 0.5 .. 4.5 m"
    _line_under(entry)
    assert entry.editor.text() == "2.50"  # the device's value, not the refused one
    entry.editor.setText("abc")
    entry.submit()
    assert entry.status_line.text == "Not sent: 'abc' is not a number"


@pytest.mark.parametrize(
    ("state", "message", "line"),
    [
        (CommandState.REJECTED, "op may not write it", "Rejected: op may not write it"),
        (CommandState.FAILED, "device refused: exception 2", "Failed: device refused: exception 2"),
        (CommandState.TIMED_OUT, "no answer within 10 s", "Timed out: no answer within 10 s"),
    ],
)
def test_a_refusal_or_failure_is_said_with_its_reason(screen, state, message, line):
    entry, _, context = _entry(screen)
    entry.editor.setText("3")
    entry.submit()
    (command,) = context.sink.commands
    context.deliver(CommandResult(command.id, SP, state, message=message))
    assert entry.status_line.text == line
    assert entry.status_line.state is state
    assert entry.editor.text() == "2.50"  # the tag's real value is back
    assert f"Last command: {state.value.replace('_', ' ')}: {message}" in entry.toolTip()


def test_an_overridden_write_shows_the_device_value_and_says_so(qtbot, screen):
    entry, store, context = _entry(screen, VALVE, 0.0)
    entry.activateWindow()
    entry.editor.setFocus()
    entry.editor.selectAll()
    QTest.keyClicks(entry.editor, "100")
    QTest.keyClick(entry.editor, Qt.Key.Key_Return)
    (command,) = context.sink.commands
    # The driver published the device's value, then answered: the PLC holds 0.0.
    store.update(VALVE, Sample(0.0))
    context.deliver(
        CommandResult(
            command.id,
            VALVE,
            CommandState.OVERRIDDEN,
            0.0,
            "overridden by device: reads 0.0 %",
        )
    )
    assert entry.editor.text() == "0.0"  # never the 100.0 that was written
    assert entry.status_line.text == "Overridden by device: reads 0.0 %"
    assert entry.status.state is CommandState.OVERRIDDEN
    assert "overridden" in entry.toolTip()
    # Later values of the device keep coming, though the field kept the focus after Enter
    # (the old entry froze while focused: the written 100.0 stayed for good).
    store.update(VALVE, Sample(12.5))
    context.binder.flush()
    assert entry.editor.text() == "12.5"
    # Until the operator takes the field again: then values wait, typing is not scrambled.
    QTest.mouseClick(entry.editor, Qt.MouseButton.LeftButton)
    store.update(VALVE, Sample(13.0))
    context.binder.flush()
    assert entry.editor.text() == "12.5"


def test_the_line_clears_after_a_while_and_when_the_next_entry_starts(qtbot, screen, monkeypatch):
    monkeypatch.setitem(status_line_module.HOLD_SECONDS, CommandState.CONFIRMED, 0.05)
    entry, _, context = _entry(screen)
    entry.editor.setText("3")
    entry.submit()
    (command,) = context.sink.commands
    context.deliver(CommandResult(command.id, SP, CommandState.CONFIRMED, 3.0))
    assert entry.status_line.isVisible()
    qtbot.waitUntil(lambda: not entry.status_line.isVisible(), timeout=2000)
    assert entry.status_line.text == "" and entry.status_text == ""
    # A failure stays until the operator types again.
    entry.editor.setText("3.3")
    entry.submit()
    command = context.sink.commands[-1]
    context.deliver(CommandResult(command.id, SP, CommandState.FAILED, message="device refused"))
    assert entry.status_line.isVisible()
    entry.editor.textEdited.emit("3.")
    assert not entry.status_line.isVisible() and entry.status_text == ""


def test_a_command_button_says_how_its_command_went_under_itself(screen):
    store = demo_store()
    store.update("area1/p101/start", Sample(False))
    context = make_context(store)
    start = CommandButton(screen)
    start.setGeometry(20, 20, 100, 32)
    start.setText("Start")
    start.tag = "area1/p101/start"
    start.tag_link.attach(context)
    start.show()
    start.click()
    assert start.status_line.text == "Start sent, waiting for the plant"
    line = _line_under(start)
    assert line.top() > start.geometry().bottom() and line.left() == start.x()
    (command,) = context.sink.commands
    context.deliver(
        CommandResult(
            command.id,
            command.tag,
            CommandState.OVERRIDDEN,
            False,
            "overridden by device: reads OFF",
        )
    )
    assert start.status_line.text == "Overridden by device: reads OFF"


def test_a_set_button_does_not_write_what_the_tag_holds_and_says_so(screen):
    store = demo_store()
    store.update("area1/lic101/auto", Sample(True))
    context = make_context(store)
    auto = CommandButton(screen)
    auto.setText("Auto")
    auto.tag = "area1/lic101/auto"
    auto.value = "1"
    auto.tag_link.attach(context)
    auto.click()
    assert context.sink.commands == []  # no `auto True->True` in the audit
    assert auto.status_line.text == "Auto already in effect: nothing sent"
    store.update("area1/lic101/auto", Sample(False))
    auto.click()
    assert [c.value for c in context.sink.commands] == [True]


def test_a_control_is_never_a_default_button(qtbot):
    button = CommandButton()
    qtbot.addWidget(button)
    assert not button.autoDefault() and not button.isDefault()


def test_a_bound_stock_button_says_how_its_write_went_and_shows_the_device_value(screen):
    from PySide6.QtWidgets import QCheckBox, QPushButton

    from hmi.qt.stock import bind_stock_widget, stock_binding

    store = demo_store()
    store.update("area1/e101/enable", Sample(False))
    store.update("area1/p101/start", Sample(False))
    context = make_context(store)
    box = QCheckBox("Heater enabled", screen)
    box.setGeometry(40, 40, 160, 26)
    box.setProperty("tag", "area1/e101/enable")
    start = QPushButton("Start P-101", screen)
    start.setGeometry(300, 40, 120, 30)
    start.setProperty("tag", "area1/p101/start")
    for widget in (box, start):
        bind_stock_widget(widget, context)
        widget.show()
    context.binder.flush()

    box.click()
    line = stock_binding(box).status_line
    assert line.text == "ON sent, waiting for the plant"
    assert line.isVisible() and line.parentWidget() is screen
    assert line.y() >= box.geometry().bottom() and line.x() == box.x()  # under what sent it
    (command,) = context.sink.commands
    context.deliver(
        CommandResult(command.id, command.tag, CommandState.REJECTED, message="interlock")
    )
    assert line.text == "Rejected: interlock" and line.state is CommandState.REJECTED
    assert not box.isChecked()  # the device's value (OFF), not the click that was refused
    assert "Last command: rejected: interlock" in box.toolTip()

    start.click()
    start_line = stock_binding(start).status_line
    assert start_line.text == "ON sent, waiting for the plant"
    store.update("area1/p101/start", Sample(True))
    context.deliver(
        CommandResult(
            context.sink.commands[-1].id, "area1/p101/start", CommandState.CONFIRMED, True
        )
    )
    assert start_line.text == "ON confirmed"
