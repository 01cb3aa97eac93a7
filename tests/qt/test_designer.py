"""Qt Designer as a screen engineer sees it: every widget with its own icon, a design-time
look instead of a BAD hatch, the project's tags offered for the `tag` property."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtDesigner import QExtensionManager
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialogButtonBox

import hmi.widgets
from hmi.core import Severity
from hmi.project import load_project
from hmi.qt.designer import register_with_designer
from hmi.qt.designer_preview import (
    PROJECT_ENV,
    disable_preview,
    enable_preview,
    enable_preview_from_environment,
    preview_context,
)
from hmi.qt.designer_tags import TASK_MENU_IID, TagChooser, choose_tag, task_menu_factory
from hmi.qt.look import BAD_MARK
from hmi.qt.registry import registered_widgets
from hmi.widgets import Pump, StateIndicator, Tank, ValueLabel, Valve
from tests.widgets.support import DEMO


@pytest.fixture
def preview():
    """Designer's preview session with the demo plant's tags, switched off afterwards."""
    project = load_project(DEMO)
    enable_preview(project.tags.values(), project=project.name, roles=project.roles)
    yield project
    disable_preview()


def _made(qtbot, cls, **props):
    widget = cls()
    qtbot.addWidget(widget)
    for key, value in props.items():
        widget.setProperty(key, value)
    widget.show()
    qtbot.waitUntil(lambda: widget.tag_link.attached)  # bound once Designer is done
    return widget


def test_every_widget_has_an_icon_of_its_own(qapp):
    infos = registered_widgets()
    assert sorted(info.cls.__name__ for info in infos) == sorted(hmi.widgets.__all__)
    digests = {}
    for info in infos:
        assert Path(info.icon).is_file(), info.cls.__name__
        icon = QIcon(info.icon)
        image = icon.pixmap(32, 32).toImage()
        assert not icon.isNull() and not image.isNull()
        digests[info.cls.__name__] = hashlib.sha1(Path(info.icon).read_bytes()).hexdigest()
    assert len(set(digests.values())) == len(digests)  # never the generic Qt icon for all


def test_outside_designer_widgets_are_not_previewed(qtbot):
    assert preview_context() is None
    label = ValueLabel()
    qtbot.addWidget(label)
    qtbot.wait(10)
    assert not label.tag_link.attached


def test_in_designer_bound_widgets_show_a_design_time_look_not_a_bad_hatch(
    qtbot, theme, preview, tmp_path
):
    label = _made(qtbot, ValueLabel, tag="area1/t101/level")
    assert label.text() == "2.50 m"  # mid-range, in the tag's format and unit
    tank = _made(qtbot, Tank, tag="area1/t101/level")
    pump = _made(qtbot, Pump, tag="area1/p101/running", faultTag="area1/p101/tripped")
    valve = _made(qtbot, Valve, tag="area1/fv101/position")
    state = _made(qtbot, StateIndicator, tag="area1/t101/level_ll", states="0=Normal;1=LL")
    assert pump.state_text() == "STOP" and state.current_state().text == "Normal"
    assert valve.opening() == pytest.approx(0.5)
    for widget in (tank, pump, valve, state):
        assert widget.quality().severity is Severity.GOOD
        image = widget.grab().toImage()
        image.save(str(tmp_path / f"{type(widget).__name__}.png"))
        # No BAD frame and X mark anywhere on it.
        pixels = {image.pixel(x, y) for x in range(image.width()) for y in range(image.height())}
        assert BAD_MARK.rgb() not in pixels, type(widget).__name__


def test_in_designer_a_name_the_project_lacks_is_marked_uncertain(qtbot, preview):
    label = _made(qtbot, ValueLabel, tag="area1/nope/level")
    assert label.sample.quality.severity is Severity.UNCERTAIN
    assert "not a tag of project Demo plant" in label.sample.quality.detail


def test_the_project_for_the_preview_comes_from_hmi_designer(monkeypatch):
    monkeypatch.setenv(PROJECT_ENV, str(DEMO))
    try:
        assert enable_preview_from_environment() == "previewing project 'Demo plant' (27 tags)"
        monkeypatch.delenv(PROJECT_ENV)
        assert enable_preview_from_environment().startswith("no project")
    finally:
        disable_preview()


def test_designer_creates_every_widget_in_its_preview(qtbot, preview):
    plugins = []
    register_with_designer(add=plugins.append)
    for plugin in plugins:
        widget = plugin.createWidget(None)
        qtbot.addWidget(widget)
        assert type(widget).__name__ == plugin.name()
    qtbot.wait(10)  # the deferred preview binding runs without an error


def test_choose_tag_offers_the_project_tags_and_sets_the_property(qtbot, preview, monkeypatch):
    dialog = TagChooser([preview.tags[name] for name in sorted(preview.tags)], "area1/t101/level")
    qtbot.addWidget(dialog)
    assert dialog.list.count() == 27 and dialog.chosen() == "area1/t101/level"
    dialog.filter.setText("p101 running")
    shown = [
        dialog.list.item(r).text()
        for r in range(dialog.list.count())
        if not dialog.list.item(r).isHidden()
    ]
    assert [text.split()[0] for text in shown] == ["area1/p101/running"]

    pump = _made(qtbot, Pump, tag="area1/p101/running")

    def pick_the_trip(chooser: TagChooser) -> int:
        """The engineer clicks area1/p101/tripped and OK."""
        texts = [chooser.list.item(r).text() for r in range(chooser.list.count())]
        chooser.list.setCurrentRow(next(r for r, t in enumerate(texts) if "p101/tripped" in t))
        return 1

    monkeypatch.setattr(TagChooser, "exec", pick_the_trip)
    assert choose_tag(pump, "faultTag") == "area1/p101/tripped"
    assert pump.faultTag == "area1/p101/tripped"


def test_typing_part_of_a_name_and_enter_chooses_the_tag_shown(qtbot, preview):
    # A faceplate's tag (${TANK}/level) is no project tag: nothing is chosen at first.
    dialog = TagChooser([preview.tags[name] for name in sorted(preview.tags)], "${TANK}/level")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.chosen() == "" and not ok.isEnabled()
    qtbot.keyClicks(dialog.filter, "t101 lev")
    assert dialog.chosen() == "area1/t101/level" and ok.isEnabled()
    qtbot.keyClick(dialog.filter, Qt.Key.Key_Down)  # the next match, typed in the filter
    assert dialog.chosen() == "area1/t101/level_hh"
    qtbot.keyClicks(dialog.filter, "zzz")  # nothing matches: nothing to choose
    assert dialog.chosen() == "" and not ok.isEnabled()
    qtbot.keyClick(dialog.filter, Qt.Key.Key_Backspace)
    qtbot.keyClick(dialog.filter, Qt.Key.Key_Backspace)
    qtbot.keyClick(dialog.filter, Qt.Key.Key_Backspace)
    with qtbot.waitSignal(dialog.accepted):
        qtbot.keyClick(dialog.filter, Qt.Key.Key_Return)
    assert dialog.chosen() == "area1/t101/level"


def test_widgets_with_a_tag_get_the_choose_tag_menu(qtbot, preview, monkeypatch):
    manager = QExtensionManager()
    factory = task_menu_factory(manager, {"Pump", "ValueLabel", "NavigationButton"})
    parent = QObject()
    pump = _made(qtbot, Pump, tag="area1/p101/running")
    menu = factory.createExtension(pump, TASK_MENU_IID, parent)
    assert [a.text() for a in menu.taskActions()] == ["Choose tag ...", "Choose fault tag ..."]
    assert menu.preferredEditAction().text() == "Choose tag ..."
    chosen = []
    monkeypatch.setattr("hmi.qt.designer_tags.choose_tag", lambda w, p: chosen.append(p))
    menu.taskActions()[1].trigger()
    assert chosen == ["faultTag"]
    label = _made(qtbot, ValueLabel, tag="area1/t101/level")
    assert factory.createExtension(label, "another.iid", parent) is None
    button = hmi.widgets.NavigationButton()
    qtbot.addWidget(button)
    assert factory.createExtension(button, TASK_MENU_IID, parent) is None  # no tag: no menu


def test_in_designer_a_faceplate_macro_previews_like_a_tag_it_could_become(qtbot, preview):
    power = _made(qtbot, ValueLabel, tag="${DEV}/power")
    assert power.text() == "50.0 kW" and power.sample.quality.severity is Severity.GOOD
    pump = _made(qtbot, Pump, tag="${DEV}/running", faultTag="${DEV}/tripped")
    assert pump.state_text() == "STOP" and pump.quality().severity is Severity.GOOD
    nothing = _made(qtbot, ValueLabel, tag="${DEV}/no_such_point")
    assert nothing.sample.quality.severity is Severity.GOOD  # hmi check judges macros
