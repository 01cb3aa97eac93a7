"""Screens load at runtime with macros; every widget is registered for Designer and loads."""

from __future__ import annotations

import runpy

import pytest
from PySide6.QtWidgets import QLabel

import hmi.widgets
from hmi.qt.designer import PLUGIN_SOURCE
from hmi.qt.loader import ScreenError, load_ui_text, substitute_macros
from hmi.qt.registry import registered_widgets
from hmi.qt.screen import ScreenView
from tests.widgets.support import demo_store, feed_normal, make_context

EVERY_WIDGET = sorted(hmi.widgets.__all__)


def _ui_with_every_widget() -> str:
    widgets, custom = [], []
    for i, info in enumerate(registered_widgets()):
        name = info.cls.__name__
        base = info.cls.__mro__[1].__name__
        tag = (
            ""
            if name in ("AlarmBanner", "AlarmList", "NavigationButton", "Trend")
            else ('<property name="tag"><string>${DEV}/running</string></property>')
        )
        widgets.append(
            f'<widget class="{name}" name="w{i}"><property name="geometry"><rect><x>0</x>'
            f"<y>{i * 40}</y><width>100</width><height>40</height></rect></property>{tag}</widget>"
        )
        custom.append(
            f"<customwidget><class>{name}</class><extends>{base}</extends>"
            f"<header>{info.module}</header></customwidget>"
        )
    stock = (
        '<widget class="QLabel" name="stock"><property name="tag" stdset="0">'
        "<string>area1/t101/level</string></property></widget>"
    )
    return (
        '<ui version="4.0"><class>all</class><widget class="QWidget" name="all">'
        + "".join(widgets)
        + stock
        + "</widget><customwidgets>"
        + "".join(custom)
        + "</customwidgets></ui>"
    )


def test_macros_are_substituted_and_escaped():
    text = "<string>${DEV}/running</string><string>${NAME}</string>"
    out = substitute_macros(text, {"DEV": "area1/p101", "NAME": 'P<1> "a"'})
    assert out == "<string>area1/p101/running</string><string>P&lt;1&gt; &quot;a&quot;</string>"


def test_undefined_macro_is_an_error_naming_it():
    with pytest.raises(ScreenError, match="DEV"):
        substitute_macros("${DEV}/running", {}, source="pump.ui")


def test_designer_plugin_registers_every_widget_in_the_hmi_group():
    from hmi.widgets.designer_plugin import register

    plugins = []
    names = register(plugins.append)
    assert sorted(names) == EVERY_WIDGET
    assert sorted(p.name() for p in plugins) == EVERY_WIDGET
    for plugin in plugins:
        assert plugin.group() == "HMI" and plugin.includeFile().startswith("hmi.widgets.")
        assert f'class="{plugin.name()}"' in plugin.domXml()
        assert plugin.toolTip() and not plugin.icon().isNull()


def test_plugin_file_written_by_hmi_designer_runs(tmp_path, monkeypatch):
    from PySide6.QtDesigner import QPyDesignerCustomWidgetCollection

    from hmi.commands.designer import designer_environment

    calls = []
    monkeypatch.setattr(
        QPyDesignerCustomWidgetCollection,
        "addCustomWidget",
        lambda plugin: calls.append(plugin.name()),
    )
    env = designer_environment(tmp_path)
    assert env["PYSIDE_DESIGNER_PLUGINS"].split(":")[0] == str(tmp_path)
    assert (tmp_path / "register_hmi.py").read_text() == PLUGIN_SOURCE
    runpy.run_path(str(tmp_path / "register_hmi.py"))
    assert sorted(calls) == EVERY_WIDGET


def test_a_ui_file_using_every_widget_loads_and_binds(qtbot):
    store = demo_store()
    feed_normal(store)
    form = load_ui_text(_ui_with_every_widget(), {"DEV": "area1/p101"})
    view = ScreenView(form, make_context(store))
    qtbot.addWidget(view)
    classes = {type(w).__name__ for w in form.findChildren(object)}
    assert set(EVERY_WIDGET) <= classes
    view.show()
    assert view.bound
    view.context.binder.flush()
    assert form.findChild(QLabel, "stock").text() == "2.41 m"
    assert "area1/p101/running" in view.tag_names()
    view.hide()
    assert not view.bound


def test_screens_share_one_loader_and_register_only_the_classes_they_use(qtbot, monkeypatch):
    # Registering a class costs PySide about 1.7 ms, more with each class registered:
    # a screen registers the classes it names, once for every screen after it.
    from hmi.qt import loader as loader_module

    shared = loader_module._SharedLoader()
    monkeypatch.setattr(loader_module, "_shared", shared)
    value_ui = (
        '<ui version="4.0"><widget class="QWidget" name="s"><widget class="ValueLabel" '
        'name="v"><property name="tag"><string>area1/t101/level</string></property></widget>'
        "</widget><customwidgets><customwidget><class>ValueLabel</class><extends>QLabel"
        "</extends><header>hmi.widgets.value_label</header></customwidget></customwidgets></ui>"
    )
    first = load_ui_text(value_ui)
    qtbot.addWidget(first)
    assert set(shared.classes) == {"ValueLabel"}
    loader = shared.loader
    second = load_ui_text(value_ui.replace('name="v"', 'name="w"'))
    qtbot.addWidget(second)
    assert shared.loader is loader and set(shared.classes) == {"ValueLabel"}
    assert type(second.findChild(QLabel, "w")).__name__ == "ValueLabel"
    every = load_ui_text(_ui_with_every_widget(), {"DEV": "area1/p101"})
    qtbot.addWidget(every)
    assert shared.loader is loader
    assert set(shared.classes) == {info.cls.__name__ for info in registered_widgets()}
