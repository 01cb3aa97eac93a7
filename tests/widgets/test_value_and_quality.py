"""What an operator sees: values, units, quality marks, alarm marks; the size never jumps."""

from __future__ import annotations

import pytest

from hmi.core import Quality, Reason, Sample
from hmi.qt.look import QualityOverlay
from hmi.widgets import AnalogIndicator, Gauge, Pump, StateIndicator, Tank, ValueLabel, Valve
from tests.widgets.support import NOW, demo_store, make_context


def _bound(qtbot, cls, tag, store=None, **props):
    store = store or demo_store()
    context = make_context(store)
    widget = cls()
    qtbot.addWidget(widget)
    widget.tag = tag
    for key, value in props.items():
        widget.setProperty(key, value)
    widget.tag_link.attach(context)
    widget.show()
    return widget, store, context


def test_value_label_shows_value_unit_and_keeps_its_size(qtbot):
    label, store, context = _bound(qtbot, ValueLabel, "area1/t101/level")
    assert label.text() == "---- m"
    size = label.size()
    store.update("area1/t101/level", Sample(2.4123, source_time=NOW))
    context.binder.flush()
    assert label.text() == "2.41 m"
    store.update("area1/t101/level", Sample(4.99999, source_time=NOW))
    context.binder.flush()
    assert label.text() == "5.00 m" and label.size() == size


def test_uncertain_keeps_the_value_marked_with_the_reason(qtbot):
    label, store, context = _bound(qtbot, ValueLabel, "area1/t101/level")
    store.update("area1/t101/level", Sample(2.5, source_time=NOW))
    context.binder.flush()
    store.degrade(["area1/t101/level"], Quality.uncertain(Reason.LAST_KNOWN_VALUE), NOW + 1)
    context.binder.flush()
    overlay = label.findChild(QualityOverlay)
    assert label.text() == "2.50 m"
    assert overlay.isVisible() and overlay.quality.reason is Reason.LAST_KNOWN_VALUE
    assert "UNCERTAIN: last known value" in label.toolTip()
    store.update("area1/t101/level", Sample(2.6, source_time=NOW + 2))
    context.binder.flush()
    assert not overlay.isVisible()


def test_alarm_limit_shows_a_priority_mark(qtbot, tmp_path, theme):
    label, store, context = _bound(qtbot, ValueLabel, "area1/t101/level")
    store.update("area1/t101/level", Sample(4.4, source_time=NOW))  # above hi 4.2
    context.binder.flush()
    overlay = label.findChild(QualityOverlay)
    assert overlay.isVisible() and overlay.priority == 2
    assert label.grab().save(str(tmp_path / "value-alarm.png"))


@pytest.mark.parametrize(
    ("cls", "tag", "value"),
    [
        (Gauge, "area1/lic101/output", 46.0),
        (AnalogIndicator, "area1/t101/level", 2.41),
        (Tank, "area1/t101/level", 2.41),
        (Valve, "area1/fv101/position", 46.0),
        (Pump, "area1/p101/running", True),
        (StateIndicator, "area1/p101/running", True),
    ],
)
def test_painted_widgets_draw_every_quality(qtbot, tmp_path, theme, cls, tag, value):
    widget, store, context = _bound(qtbot, cls, tag)
    size = widget.sizeHint()
    images = []
    for quality in (
        Quality(),
        Quality.uncertain(Reason.LAST_KNOWN_VALUE),
        Quality.bad(Reason.DEVICE_FAILURE),
    ):
        store.update(tag, Sample(value, quality, NOW, NOW))
        context.binder.flush()
        assert widget.quality() == quality
        assert quality.describe() in widget.toolTip()
        image = widget.grab()
        image.save(str(tmp_path / f"{cls.__name__}-{quality.severity.name}.png"))
        images.append(image.toImage())
        assert widget.sizeHint() == size
    assert images[0] != images[1] != images[2]  # each state looks different


def test_state_indicator_maps_values_and_pump_shows_trip(qtbot):
    indicator, store, context = _bound(
        qtbot, StateIndicator, "area1/p101/tripped", states="0=Normal;1=TRIPPED:#d40000"
    )
    store.update("area1/p101/tripped", Sample(True))
    context.binder.flush()
    assert indicator.current_state().text == "TRIPPED"
    assert indicator.current_state().colour == "#d40000"
    pump, store2, context2 = _bound(
        qtbot, Pump, "area1/p101/running", faultTag="area1/p101/tripped"
    )
    store2.apply({"area1/p101/running": Sample(False), "area1/p101/tripped": Sample(True)})
    context2.binder.flush()
    assert pump.faulted() and pump.running() is False


@pytest.mark.parametrize("cls", [ValueLabel, Tank])
def test_the_tooltip_says_the_value_of_now_in_the_tags_format(qtbot, cls):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QEnterEvent
    from PySide6.QtWidgets import QApplication

    widget, store, context = _bound(qtbot, cls, "area1/t101/level")
    store.update("area1/t101/level", Sample(2.579763174057007, source_time=NOW))
    context.binder.flush()
    store.update("area1/t101/level", Sample(3.200000047683716, source_time=NOW + 1))
    context.binder.flush()  # the same quality: no tooltip work per sample
    here = QPointF(5, 5)
    QApplication.sendEvent(widget, QEnterEvent(here, here, widget.mapToGlobal(here)))
    assert "Value: 3.20 m" in widget.toolTip()  # never 3.200000047683716, never stale
