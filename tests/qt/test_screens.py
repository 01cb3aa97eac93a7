"""The demo screens: rendered, navigated, faceplates popped up, all tags BAD shown."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from hmi.core import Quality, Reason, Severity
from hmi.project import load_project
from hmi.qt.look import QualityOverlay
from hmi.qt.screen import ScreenView, links_in
from hmi.screens.catalog import DEMO_SCREENS
from hmi.screens.shell import MainWindow
from hmi.widgets import Pump, ValueLabel
from hmi.widgets.base import TagWidget
from tests.widgets.support import DEMO, NOW, demo_store, feed_normal, make_context


def _window(qtbot, store=None):
    project = load_project(DEMO)
    store = store or demo_store()
    window = MainWindow(project, store, make_context(store))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


@pytest.mark.parametrize("entry", DEMO_SCREENS, ids=lambda e: e.name)
def test_demo_screen_renders_with_live_values(qtbot, qapp, theme, tmp_path, entry):
    store = demo_store()
    feed_normal(store)
    view = ScreenView.open(entry.file, make_context(store), macros=entry.macros)
    qtbot.addWidget(view)
    view.resize(view.form.size())
    view.show()
    view.context.binder.flush()
    qapp.processEvents()  # let the layout settle before the picture
    missing = view.tag_names() - set(store.tags)
    assert not missing, f"{entry.name} binds to tags the demo plant lacks: {missing}"
    png = tmp_path / f"{entry.name}.png"
    assert view.grab().save(str(png))
    assert QImage(str(png)).width() > 300
    labels = view.form.findChildren(ValueLabel)
    assert all(label.text() != "----" for label in labels)


def test_main_window_navigates_home_back_forward(qtbot, qapp, theme, tmp_path):
    store = demo_store()
    feed_normal(store)
    window = _window(qtbot, store)
    nav = window.navigator
    assert nav.current[0] == "overview" and not nav.can_back
    overview = nav.current_view
    assert overview.bound
    window.screen_buttons["trends"].click()
    assert nav.current[0] == "trends" and window.screen_title.text() == "Trends"
    assert not overview.bound  # a hidden screen costs nothing per frame
    window.back_button.click()
    assert nav.current[0] == "overview" and nav.can_forward
    window.forward_button.click()
    assert nav.current[0] == "trends"
    window.home_button.click()
    assert nav.current[0] == "overview"
    window.context.binder.flush()
    qapp.processEvents()
    assert window.grab().save(str(tmp_path / "main-window.png"))


def test_clicking_a_pump_opens_its_faceplate_with_macros(qtbot, qapp, theme, tmp_path):
    store = demo_store()
    feed_normal(store)
    window = _window(qtbot, store)
    pump = next(
        p for p in window.navigator.current_view.form.findChildren(Pump) if p.label == "P-101"
    )
    qtbot.mouseClick(pump, Qt.MouseButton.LeftButton, pos=QPoint(40, 30))
    popups = list(window.navigator.popups.values())
    assert len(popups) == 1
    popup = popups[0]
    assert popup.windowTitle() == "P-101 pump"
    assert "area1/p101/tripped" in popup.view.tag_names()
    window.context.binder.flush()
    qapp.processEvents()
    assert popup.size().width() >= 360
    assert popup.grab().save(str(tmp_path / "pump-faceplate.png"))
    # the same faceplate again is raised, not duplicated
    qtbot.mouseClick(pump, Qt.MouseButton.LeftButton, pos=QPoint(40, 30))
    assert len(window.navigator.popups) == 1
    window.navigator.close_popups()


def test_a_screen_whose_tags_go_bad_shows_it_everywhere(qtbot, qapp, theme, tmp_path):
    store = demo_store()
    feed_normal(store)
    window = _window(qtbot, store)
    window.context.binder.flush()
    form = window.navigator.current_view.form
    before = {label.tag: label.text() for label in form.findChildren(ValueLabel)}
    store.degrade(list(store.tags), Quality.bad(Reason.NO_COMMUNICATION), NOW + 5)
    window.context.binder.flush()
    qapp.processEvents()
    assert window.grab().save(str(tmp_path / "overview-bad.png"))
    labels = form.findChildren(ValueLabel)
    # values stay (never blanked), each marked, reason in the tooltip
    assert {label.tag: label.text() for label in labels} == before
    for label in labels:
        overlay = label.findChild(QualityOverlay)
        assert overlay is not None and overlay.isVisible(), label.tag
        assert "BAD: no communication" in label.toolTip()
    painted = form.findChildren(TagWidget)
    assert painted and all(w.quality().severity is Severity.BAD for w in painted)
    assert all(
        link.sample(name).quality.severity is Severity.BAD
        for link in links_in(form)
        for name in link.names()
    )
