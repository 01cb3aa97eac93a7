"""The demo overview as an operator sees it at 1920x1080: the drawing uses the window, no
process line crosses a label, the lines reach the vessel, the heater is a heater, and a
faceplate opens beside its equipment."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QFrame, QLabel, QWidget

from hmi.project import load_project
from hmi.screens.shell import MainWindow
from hmi.widgets import Heater, Motor, NavigationButton, Pump, StateIndicator, Tank, Valve
from hmi.widgets.equipment import EquipmentWidget
from tests.widgets.support import DEMO, demo_store, feed_normal, make_context


def _window(qtbot, qapp, width: int, height: int) -> MainWindow:
    store = demo_store()
    feed_normal(store)
    window = MainWindow(load_project(DEMO), store, make_context(store))
    qtbot.addWidget(window)
    window.resize(width, height)
    window.show()
    window.context.binder.flush()
    qtbot.waitUntil(lambda: window.navigator.current_view.form.width() > 0)
    qapp.processEvents()
    return window


def _in_form(widget: QWidget, rect: QRect, form: QWidget) -> QRect:
    return QRect(widget.mapTo(form, rect.topLeft()), rect.size())


def _texts(form: QWidget) -> dict[str, QRect]:
    """Everything an operator reads on the drawing, in form coordinates."""
    texts: dict[str, QRect] = {}
    for label in form.findChildren(QLabel):
        if label.text().strip() and label.isVisible():
            texts[f"{label.objectName()} {label.text()!r}"] = label.geometry()
    for widget in [*form.findChildren(StateIndicator), *form.findChildren(NavigationButton)]:
        texts[widget.objectName()] = widget.geometry()
    for equipment in form.findChildren(EquipmentWidget):
        caption = _in_form(equipment, equipment.caption_area(), form)
        texts[f"{equipment.objectName()} caption {equipment.label!r}"] = caption
    return texts


def test_demo_overview_at_1920x1080_fills_the_window_and_no_pipe_crosses_a_label(
    qtbot, qapp, theme, tmp_path
):
    window = _window(qtbot, qapp, 1920, 1080)
    nav = window.navigator
    form = nav.current_view.form
    fit = nav.fits[nav.current]
    # Scaled to the space it has (not stuck at its drawn size in the top-left corner) ...
    assert fit.zoom >= 1.3
    drawn = QRect()
    for widget, _ in fit.parts:
        drawn = drawn.united(widget.geometry())
    area = form.rect()
    # ... and centred: the margins left and right of the drawing match.
    left, right = drawn.left() - area.left(), area.right() - drawn.right()
    assert left > 100 and abs(left - right) <= 0.05 * area.width() + fit.offset[0] * 0.2

    pipes = {p.objectName(): p.geometry() for p in form.findChildren(QFrame) if p.property("pipe")}
    assert len(pipes) >= 4
    crossed = [
        f"{pipe} crosses {text}"
        for pipe, line in pipes.items()
        for text, rect in _texts(form).items()
        if line.intersects(rect)
    ]
    assert not crossed, crossed

    # A pipe meets a symbol at its centre line, never its alarm mark or its caption.
    for equipment in form.findChildren(EquipmentWidget):
        symbol = _in_form(equipment, equipment.symbol_area(), form)
        port = equipment.mapTo(form, QPoint(0, equipment.port_y())).y()
        for name, line in pipes.items():
            if line.intersects(equipment.geometry()) and line.height() < line.width():
                assert symbol.contains(line.intersected(equipment.geometry())), name
                assert abs(line.center().y() - port) <= 2, f"{name} misses {equipment.label}"

    # The inlet pipe reaches the tank's wall; the outlet leaves from its bottom.
    tank = form.findChild(Tank)
    vessel = _in_form(tank, tank.vessel_area(), form)
    assert pipes["inletPipe"].intersects(vessel)
    assert pipes["outletDown"].intersects(vessel)

    # E-101 is drawn as a heater, not as a motor.
    heaters = form.findChildren(Heater)
    assert [h.label for h in heaters] == ["E-101"]
    assert not [m for m in form.findChildren(Motor) if type(m) is Motor]

    folder = Path(os.environ.get("HMI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    image = window.grab()
    assert image.save(str(folder / "overview-1920x1080.png"))
    assert (image.width(), image.height()) == (1920, 1080)


def test_a_faceplate_opens_beside_its_equipment_never_on_it(qtbot, qapp, theme):
    window = _window(qtbot, qapp, 800, 800)  # the offscreen screen: every window on it
    form = window.navigator.current_view.form
    for cls, label, title in ((Heater, "E-101", "E-101 heater"), (Valve, "FV-101", "FV-101 valve")):
        equipment = next(e for e in form.findChildren(cls) if e.label == label)
        qtbot.mouseClick(equipment, Qt.MouseButton.LeftButton, pos=QPoint(40, 34))
        popup = next(p for p in window.navigator.popups.values() if p.windowTitle() == title)
        qapp.processEvents()
        anchor = QRect(equipment.mapToGlobal(QPoint(0, 0)), equipment.size())
        assert not popup.frameGeometry().intersects(anchor), (title, popup.frameGeometry())
        assert window.screen().availableGeometry().contains(popup.frameGeometry())
        assert popup.title is None  # its drawing has its own title ("Heater E-101")
    # The same faceplate again is raised, not opened twice.
    pump = next(p for p in form.findChildren(Pump) if p.label == "P-101")
    qtbot.mouseClick(pump, Qt.MouseButton.LeftButton, pos=QPoint(40, 34))
    qtbot.mouseClick(pump, Qt.MouseButton.LeftButton, pos=QPoint(40, 34))
    assert sorted(p.windowTitle() for p in window.navigator.popups.values()) == [
        "E-101 heater",
        "FV-101 valve",
        "P-101 pump",
    ]
    # Its own close button (a kiosk X server draws no title bar to close it with).
    popup = next(p for p in window.navigator.popups.values() if p.windowTitle() == "P-101 pump")
    assert popup.close_button.isVisible()
    assert popup.rect().contains(popup.close_button.geometry())
    popup.close_button.click()

    def titles() -> list[str]:
        return [p.windowTitle() for p in window.navigator.popups.values()]

    qtbot.waitUntil(lambda: "P-101 pump" not in titles())


def test_no_label_is_under_a_widget_that_draws_bad_quality_or_an_alarm_mark(qtbot, qapp, theme):
    """A bound widget draws over its whole rectangle when its tag is BAD or in alarm (the
    hatch, its frame, the X and the priority mark at its top-left corner): a label under
    that rectangle would lose its words exactly when the operator needs them."""
    from hmi.widgets import ValueLabel
    from hmi.widgets.base import TagWidget

    window = _window(qtbot, qapp, 1920, 1080)
    form = window.navigator.current_view.form
    bound = [w for w in form.findChildren(QWidget) if isinstance(w, TagWidget | ValueLabel)]
    assert len(bound) >= 15
    texts = _texts(form)
    for equipment in form.findChildren(EquipmentWidget):
        # The words of its caption, not the whole band below the symbol: E-101 is drawn
        # on T-101's wall, its symbol inside the tank's rectangle by design.
        texts[f"{equipment.objectName()} caption {equipment.label!r}"] = _caption_words(
            equipment, form
        )
    under = [
        f"{text} is under {widget.objectName()}"
        for widget in bound
        for text, rect in texts.items()
        if not text.startswith(widget.objectName()) and rect.intersects(widget.geometry())
    ]
    assert not under, under


def _caption_words(equipment: EquipmentWidget, form: QWidget) -> QRect:
    """Where the caption's words are (state text and label, centred), in form pixels."""
    from PySide6.QtGui import QFontMetrics

    states = [equipment.label, getattr(equipment, "faultText", "") or "TRIP", "STOP", "INTLK"]
    bold = QFontMetrics(equipment.value_font(11))
    width = max(bold.horizontalAdvance(text) for text in states) * equipment.zoom
    area = _in_form(equipment, equipment.caption_area(), form)
    return QRect(round(area.center().x() - width / 2), area.top(), round(width), area.height())
