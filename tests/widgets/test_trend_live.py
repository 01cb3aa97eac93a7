"""A live Trend holds each tag's last value up to now (drivers publish only on change).

The trend's clock is the session's (settable); frames are run by hand, so every step is
deterministic: no sleeps, no timers.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor

from hmi.core import Quality, Reason, Sample
from hmi.widgets import Trend
from hmi.widgets.trend_chart import PENS
from tests.widgets.support import NOW, demo_store, make_context

SP = "area1/lic101/sp"
LEVEL = "area1/t101/level"


class Clock:
    """The session's clock, moved by the test."""

    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def open_live(qtbot, store, clock: Clock, tags: str = SP) -> Trend:
    context = make_context(store)
    context.clock = clock
    context.binder.stop()  # frames run when the test says
    trend = Trend()
    qtbot.addWidget(trend)
    trend.tags = tags
    trend.span = 600.0
    trend.resize(600, 300)
    trend.show()
    qtbot.waitExposed(trend)
    trend.tag_link.attach(context)
    return trend


def frame(trend: Trend) -> None:
    trend.tag_link.context.binder.flush()


def drawn_at(trend: Trend, t: float, value: float, name: str | None = None) -> bool:
    """True when the pen's colour is painted at ``(t, value)`` of the plot (a screenshot).

    ``name``: the pen (its colour and its row); default the first.
    """
    image = trend.plot.grab().toImage()
    name = name or trend.tags.split(",")[0].strip()
    row = trend.chart.row_of(name)
    scene = row.viewbox.mapViewToScene(QPointF(t, value))
    point = trend.plot.mapFromScene(scene)
    pen = QColor(PENS[[n.strip() for n in trend.tags.split(",")].index(name)])
    for dx in range(-2, 3):
        for dy in range(-2, 3):
            c = image.pixelColor(point.x() + dx, point.y() + dy)
            if (
                abs(c.red() - pen.red()) + abs(c.green() - pen.green()) + abs(c.blue() - pen.blue())
                < 60
            ):
                return True
    return False


def test_a_quiet_setpoint_is_held_up_to_now_and_the_hold_stops_at_bad(qtbot):
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock)
    chart = trend.chart
    store.update(SP, Sample(2.5, source_time=NOW))
    frame(trend)
    assert chart.tail(SP) == ([], [])  # nothing to hold yet: the sample is now
    clock.t = NOW + 120  # two minutes without a sample: the driver publishes on change
    frame(trend)
    assert chart.tail(SP) == ([NOW, NOW + 120], [2.5, 2.5])
    # The live curve is the one sample; the tail (two points) holds it, no new array per
    # frame. (It used to assert the live curve kept its very array: it now recomputes its
    # few points when the view scrolls, as pyqtgraph re-clipped them before.)
    assert chart.live(SP) == ([NOW], [2.5])
    assert drawn_at(trend, NOW + 110, 2.5)  # the operator sees the line reach "now"
    clock.t = NOW + 180
    frame(trend)
    assert chart.tail(SP) == ([NOW, NOW + 180], [2.5, 2.5])  # it follows the clock
    # UNCERTAIN (last known value): still held
    store.update(SP, Sample(2.6, Quality.uncertain(Reason.LAST_KNOWN_VALUE), NOW + 200))
    clock.t = NOW + 240
    frame(trend)
    assert chart.tail(SP) == ([NOW + 200, NOW + 240], [2.6, 2.6])
    # BAD: nothing is known from then on, so nothing is held ...
    store.update(SP, Sample(2.6, Quality.bad(Reason.NO_COMMUNICATION), NOW + 250))
    clock.t = NOW + 300
    frame(trend)
    assert chart.tail(SP) == ([], [])
    assert not drawn_at(trend, NOW + 290, 2.6)
    # ... but up to the BAD sample the value held: the line ends at its time, not at the
    # last GOOD sample's
    x, y = chart.live(SP)
    assert x[-2:] == [NOW + 250] * 2
    assert y[-2] == 2.6 and np.isnan(y[-1])
    assert drawn_at(trend, NOW + 245, 2.6)
    trend.set_cursor(NOW + 290)
    assert f"{SP} = ----" in trend.readout_text()
    store.update(SP, Sample(2.7, source_time=NOW + 310))
    clock.t = NOW + 330
    frame(trend)
    assert chart.tail(SP) == ([NOW + 310, NOW + 330], [2.7, 2.7])


def test_a_paused_trend_holds_up_to_now_too(qtbot):
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock)
    store.update(SP, Sample(2.5, source_time=NOW - 30))
    frame(trend)
    trend.pause()
    clock.t = NOW + 60
    frame(trend)
    assert trend.chart.tail(SP) == ([NOW - 30, NOW + 60], [2.5, 2.5])
    assert trend.chart.view_range() == (NOW - 600, NOW)  # paused: no scrolling


def test_a_trend_opened_on_a_quiet_tag_draws_its_current_value(qtbot):
    store, clock = demo_store(), Clock()
    # The setpoint was last changed an hour ago: the store holds it, no sample will come.
    store.update(SP, Sample(2.5, source_time=NOW - 3600))
    trend = open_live(qtbot, store, clock)
    assert list(trend.buffer(SP).times) == [NOW - 3600]
    assert trend.chart.tail(SP) == ([NOW - 3600, NOW], [2.5, 2.5])
    assert drawn_at(trend, NOW - 300, 2.5)
    trend.set_cursor(NOW - 300)
    assert f"{SP} = 2.5" in trend.readout_text()


def test_shown_again_without_history_the_line_goes_on_unless_samples_were_missed(qtbot):
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock, tags=f"{SP}, {LEVEL}")
    store.update(SP, Sample(2.5, source_time=NOW - 10))
    store.update(LEVEL, Sample(1.0, source_time=NOW - 10))
    frame(trend)
    context = trend.tag_link.context
    clock.t = NOW + 20
    trend.tag_link.detach()  # the screen is hidden at NOW + 20 ...
    store.update(LEVEL, Sample(1.4, source_time=NOW + 50))  # ... and LEVEL changes meanwhile
    clock.t = NOW + 100
    trend.tag_link.attach(context)
    # SP did not change: nothing was missed, its line goes on, held to now
    assert list(trend.buffer(SP).times) == [NOW - 10]
    assert trend.chart.tail(SP) == ([NOW - 10, NOW + 100], [2.5, 2.5])
    # LEVEL changed unseen: held until the trend stopped watching, a gap, then the new value
    level = trend.buffer(LEVEL)
    assert list(level.times) == [NOW - 10, NOW + 20, NOW + 20, NOW + 50]
    assert np.array_equal(level.values, [1.0, 1.0, np.nan, 1.4], equal_nan=True)
    assert trend.chart.tail(LEVEL) == ([NOW + 50, NOW + 100], [1.4, 1.4])
