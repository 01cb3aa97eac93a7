"""A command is one explicit action (issue 14, item 1): Enter in a faceplate's setpoint
field writes the setpoint and nothing else, no faceplate has a default button, and every
write widget of the built-in faceplates has room for its status line."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton, QWidget

from hmi.core import CommandResult, CommandState, Sample
from hmi.project import load_project
from hmi.qt.status_line import StatusLine
from hmi.screens.shell import MainWindow
from hmi.widgets import CommandButton, NavigationButton, SetpointEntry
from tests.widgets.support import DEMO, demo_store, feed_normal, make_context

AUTO = "area1/lic101/auto"
SP = "area1/lic101/sp"
#: the longest outcome a faceplate's line usually says (an override names a value)
LONG = "Overridden by device: reads 100.0 %"


def _window(qtbot) -> MainWindow:
    store = demo_store()
    feed_normal(store)  # LIC-101 in AUTO, SP 2.5 m
    window = MainWindow(load_project(DEMO), store, make_context(store))
    qtbot.addWidget(window)
    window.resize(1920, 1080)
    window.show()
    window.context.binder.flush()
    return window


def _lic_faceplate(window: MainWindow):
    """Open LIC-101's faceplate as the operator does: its button on the overview."""
    form = window.navigator.current_view.form
    button = next(b for b in form.findChildren(NavigationButton) if b.target == "pid")
    button.click()
    (popup,) = window.navigator.popups.values()
    window.context.binder.flush()
    return popup


def _answer(window: MainWindow, value) -> None:
    """The plant confirms the last command (as a driver would: value, then result)."""
    context = window.context
    command = context.sink.commands[-1]
    context.store.update(command.tag, Sample(value))
    context.deliver(CommandResult(command.id, command.tag, CommandState.CONFIRMED, value))
    context.binder.flush()


def test_enter_in_the_setpoint_field_writes_the_setpoint_only(qtbot, qapp):
    window = _window(qtbot)
    popup = _lic_faceplate(window)
    form = popup.view.form
    buttons = {b.text(): b for b in form.findChildren(CommandButton)}
    # No default button anywhere in the faceplate: Enter clicks nothing by itself.
    assert not any(b.isDefault() or b.autoDefault() for b in form.findChildren(QPushButton))

    manual = buttons["Manual"]
    manual.auto_confirm = True  # the operator confirms "Switch LIC-101 to manual?"
    qtbot.mouseClick(manual, Qt.MouseButton.LeftButton)
    (command,) = window.context.sink.commands
    assert (command.tag, command.value) == (AUTO, False)
    _answer(window, False)
    assert manual.status_line.text == "Manual confirmed"

    sent = len(window.context.sink.commands)
    sp = next(e for e in form.findChildren(SetpointEntry) if e.tag == SP)
    sp.editor.setFocus()
    sp.editor.selectAll()
    QTest.keyClicks(sp.editor, "2.5")
    QTest.keyClick(sp.editor, Qt.Key.Key_Return)
    qapp.processEvents()
    new = window.context.sink.commands[sent:]
    assert [(c.tag, c.value) for c in new] == [(SP, 2.5)]  # exactly one command
    assert window.context.store.get(AUTO).value is False  # the mode is untouched
    assert sp.status_line.text == "2.50 m sent, waiting for the plant"
    _answer(window, 2.5)
    assert sp.status_line.text == "2.50 m confirmed"

    # Enter anywhere else in the faceplate clicks nothing either.
    QTest.keyClick(popup, Qt.Key.Key_Return)
    QTest.keyClick(buttons["Auto"], Qt.Key.Key_Return)
    qapp.processEvents()
    assert len(window.context.sink.commands) == sent + 1


def test_a_mode_button_does_not_write_the_mode_it_is_in(qtbot):
    window = _window(qtbot)
    popup = _lic_faceplate(window)
    auto = next(b for b in popup.view.form.findChildren(CommandButton) if b.text() == "Auto")
    qtbot.mouseClick(auto, Qt.MouseButton.LeftButton)
    assert window.context.sink.commands == []  # no `auto True->True`
    assert auto.status_line.text == "Auto already in effect: nothing sent"


@pytest.mark.parametrize("name", ["pid", "valve", "pump", "heater"])
def test_every_write_widget_of_a_faceplate_has_room_for_its_status_line(qtbot, qapp, name):
    window = _window(qtbot)
    macros = {
        "pid": {"LOOP": "area1/lic101", "PV": "area1/t101/level", "NAME": "LIC-101"},
        "valve": {"DEV": "area1/fv101", "NAME": "FV-101"},
        "pump": {"DEV": "area1/p101", "NAME": "P-101", "FLOW": "area1/ft102/flow"},
        "heater": {"DEV": "area1/e101", "NAME": "E-101"},
    }[name]
    popup = window.navigator.open_popup(name, macros)
    assert popup is not None
    form = popup.view.form
    qapp.processEvents()
    writers = [*form.findChildren(SetpointEntry), *form.findChildren(CommandButton)]
    assert writers
    for writer in writers:
        line = writer.status_line
        line.show_outcome(CommandState.OVERRIDDEN, LONG)
        qapp.processEvents()
        where = line.geometry()
        assert QRect(QPoint(0, 0), form.size()).contains(where), (writer.objectName(), where)
        assert where.width() >= line.fontMetrics().horizontalAdvance(LONG)  # not cut
        others = [
            w
            for w in form.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
            if w.isVisible() and not isinstance(w, StatusLine) and w is not writer
        ]
        hidden = [
            (w.objectName(), w.geometry(), where) for w in others if w.geometry().intersects(where)
        ]
        assert not hidden, f"{name}: {writer.objectName()}'s status line hides {hidden}"
        line.clear()
