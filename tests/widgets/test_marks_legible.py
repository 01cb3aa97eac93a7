"""Alarm marks an operator can read: large, their number legible, visible on a fill of their
own colour, never faded by a BAD hatch; readouts that do not look like buttons; a heater
drawn as a heater. Asserted on grabbed pixels."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QColor, QImage

from hmi.core import Sample
from hmi.core.alarms import AlarmState as S
from hmi.core.alarms import Level
from hmi.qt.look import ALARM_COLOURS, FIELD, FIELD_EDGE, MARK_SIZE, QualityOverlay
from hmi.widgets import CommandButton, Heater, Pump, StateIndicator, ValueLabel
from tests.qt.alarm_support import T0, FakeEngine, transition
from tests.widgets.support import NOW, bad, demo_store, feed_normal, make_context

LL, INTERLOCK, TEMP = "area1/t101/level_ll", "area1/e101/interlock", "area1/t101/temperature"


def _session():
    store = demo_store()
    feed_normal(store)
    context = make_context(store)
    context.alarms.service = FakeEngine().service()
    return store, context


def _alarm(context, tag, priority, state=S.ACKNOWLEDGED, level=Level.STATE):
    context.alarms.apply(transition(tag, state, T0, priority=priority, level=level))
    context.binder.flush()


def _indicator(qtbot, context, tag, states, width=130):
    widget = StateIndicator()
    qtbot.addWidget(widget)
    widget.tag = tag
    widget.states = states
    widget.resize(width, 26)
    widget.tag_link.attach(context)
    widget.show()
    return widget


def _near(a: QColor, b: QColor, tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def _band(image: QImage, outer: QRect, inner: QRect) -> list[QColor]:
    """The pixels inside ``outer`` and outside ``inner``."""
    return [
        image.pixelColor(x, y)
        for y in range(outer.top(), outer.bottom() + 1)
        for x in range(outer.left(), outer.right() + 1)
        if not inner.contains(x, y) and image.rect().contains(x, y)
    ]


def test_a_red_p1_mark_stands_out_on_a_red_low_low_field(qtbot, theme):
    store, context = _session()
    widget = _indicator(qtbot, context, LL, "0=Normal;1=LOW-LOW:#d40000")
    store.update(LL, Sample(True, source_time=NOW))
    _alarm(context, LL, 1)
    image = widget.grab().toImage()
    red = ALARM_COLOURS[1]
    box = widget.mark_box(QRectF(widget.rect())).toRect()
    assert box.width() >= 20 and box.height() >= 20  # not the 16 px it was
    # The field around the mark is red ...
    assert _near(image.pixelColor(widget.width() - 6, 4), red)
    # ... and a light halo with a black outline parts the mark from it all around.
    ring = _band(image, box.adjusted(-1, -1, 1, 1), box.adjusted(2, 2, -2, -2))
    assert sum(_near(c, red) for c in ring) < 0.1 * len(ring)
    assert sum(c.lightness() > 200 for c in ring) > 0.3 * len(ring)
    # The number: white digit pixels inside the square.
    inner = box.adjusted(5, 5, -5, -5)
    digit = _band(image, inner, QRect())
    assert sum(c.lightness() > 220 for c in digit) >= 12


def test_a_yellow_p3_mark_stands_out_on_a_yellow_interlock_field(qtbot, theme):
    store, context = _session()
    widget = _indicator(qtbot, context, INTERLOCK, "0=Heater OK;1=INTERLOCK:#f2d600")
    store.update(INTERLOCK, Sample(True, source_time=NOW))
    _alarm(context, INTERLOCK, 3)
    image = widget.grab().toImage()
    yellow = ALARM_COLOURS[3]
    box = widget.mark_box(QRectF(widget.rect())).toRect()
    assert _near(image.pixelColor(widget.width() - 6, 4), yellow)
    # The inverted triangle's top edge: halo and outline, not yellow on yellow.
    top_edge = _band(
        image,
        QRect(box.left() + 3, box.top() - 1, box.width() - 6, 2),
        QRect(),
    )
    assert sum(_near(c, yellow, 30) for c in top_edge) < 0.2 * len(top_edge)


@pytest.mark.parametrize("cls", [ValueLabel, StateIndicator])
def test_the_mark_is_drawn_over_the_bad_hatch_not_faded_by_it(qtbot, theme, cls):
    store, context = _session()
    if cls is ValueLabel:
        widget = ValueLabel()
        widget.tag = TEMP
    else:
        widget = StateIndicator()
        widget.tag = LL
        widget.states = "0=Normal;1=LOW-LOW:#d40000"
    qtbot.addWidget(widget)
    widget.tag_link.attach(context)
    widget.show()
    tag = widget.tag
    store.update(tag, Sample(store.get(tag).value, bad(), NOW, NOW))
    _alarm(context, tag, 1, level=Level.HI)
    image = widget.grab().toImage()
    if cls is ValueLabel:
        overlay = widget.findChild(QualityOverlay)
        assert overlay.isVisible() and not overlay.quality.is_good
        side = (widget.height() - 2) if widget.height() - 2 < MARK_SIZE else MARK_SIZE
        box = QRect(2, int((widget.height() - side) / 2), int(side), int(side))
    else:
        box = widget.mark_box(QRectF(widget.rect())).toRect()
    # Inside the square, off its digit: the alarm's own red, no grey wash, no hatch.
    inside = [image.pixelColor(box.left() + dx, box.top() + dy) for dx, dy in ((4, 4), (4, 7))]
    assert all(_near(c, ALARM_COLOURS[1], 12) for c in inside), [c.name() for c in inside]


def test_an_equipment_mark_sits_above_the_process_line(qtbot):
    pump = Pump()
    qtbot.addWidget(pump)
    rect = QRectF(pump.rect())
    box = pump.mark_box(rect)
    assert box.width() >= 20
    # The halo (2 px) stays clear of a 4 px pipe on the symbol's centre line.
    assert box.bottom() + 2 <= pump.PORT_Y - 2
    assert box.bottom() <= pump.symbol_rect(rect).bottom() <= pump.caption_rect(rect).top()


def test_a_state_indicator_is_a_flat_readout_and_a_button_is_raised(qtbot, theme):
    _, context = _session()
    widget = _indicator(qtbot, context, LL, "0=Normal;1=LOW-LOW:#d40000")
    image = widget.grab().toImage()
    w, h = widget.width(), widget.height()
    # Flat: the same field colour at its top and bottom, framed by the readout edge.
    assert image.pixelColor(w - 10, 3) == image.pixelColor(w - 10, h - 4) == FIELD
    assert image.pixelColor(0, h // 2) == FIELD_EDGE
    # The text starts at the left, as a value does (a button centres its label).
    dark = [x for x in range(w) if image.pixelColor(x, h // 2).lightness() < 90]
    assert dark and dark[0] < 16

    button = CommandButton()
    qtbot.addWidget(button)
    button.setText("Start")
    button.resize(100, 34)
    button.show()
    shot = button.grab().toImage()
    top, bottom = shot.pixelColor(50, 4), shot.pixelColor(50, 28)
    # Raised: lit from above, a dark lower edge.
    assert top.lightness() - bottom.lightness() >= 10
    assert shot.pixelColor(50, 33).lightness() < 100


def test_e101_is_drawn_as_a_heater_with_its_state_in_words(qtbot):
    store, context = _session()
    heater = Heater()
    qtbot.addWidget(heater)
    heater.tag = "area1/e101/on"
    heater.faultTag = INTERLOCK
    heater.label = "E-101"
    heater.tag_link.attach(context)
    heater.show()
    assert heater.state_text() == "ON"
    store.update("area1/e101/on", Sample(False, source_time=NOW))
    context.binder.flush()
    assert heater.state_text() == "OFF"
    store.update(INTERLOCK, Sample(True, source_time=NOW))
    context.binder.flush()
    assert heater.state_text() == "INTLK"
    pump = Pump()
    qtbot.addWidget(pump)
    assert pump.fault_text == "TRIP" and heater.fault_text == "INTLK"
