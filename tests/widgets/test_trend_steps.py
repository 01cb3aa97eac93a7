"""Live trends are truthful in time (issue 14): steps as steps, no ramp before a change.

Drivers publish on change, so a value holds until the next sample: a line between two
samples minutes apart would start the change minutes early. The assertions are on the
points the live curve hands pyqtgraph (what is painted) and on the painted pixels.
"""

from __future__ import annotations

import numpy as np

from hmi.core import Quality, Reason, Sample
from hmi.widgets.trend_shape import JOIN_SECONDS
from tests.widgets.support import NOW, demo_store
from tests.widgets.test_trend_live import Clock, drawn_at, frame, open_live

LEVEL = "area1/t101/level"
SP = "area1/lic101/sp"
FLOW = "area1/ft102/flow"
RUNNING = "area1/p101/running"


def test_a_level_step_is_drawn_as_a_step_not_a_triangle(qtbot):
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock, tags=LEVEL)
    store.update(LEVEL, Sample(1.0, source_time=NOW - 500))
    store.update(LEVEL, Sample(2.0, source_time=NOW - 200))  # a step up ...
    store.update(LEVEL, Sample(1.0, source_time=NOW - 100))  # ... and back
    frame(trend)
    assert trend.chart.live(LEVEL) == (
        [NOW - 500, NOW - 200, NOW - 200, NOW - 100, NOW - 100],
        [1.0, 1.0, 2.0, 2.0, 1.0],
    )
    assert drawn_at(trend, NOW - 150, 2.0)  # the top of the step, held
    assert not drawn_at(trend, NOW - 350, 1.5)  # where the old triangle's flank was


def test_a_pump_trip_does_not_show_the_flow_falling_before_the_trip(qtbot):
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock, tags=FLOW)
    store.update(FLOW, Sample(11.8, source_time=NOW - 400))  # steady: nothing published
    trip = NOW - 100.0
    falling = [(trip + 0.2 * k, v) for k, v in enumerate((9.0, 5.0, 2.0, 0.0))]
    for t, v in falling:
        store.update(FLOW, Sample(v, source_time=t))
    frame(trend)
    x, y = trend.chart.live(FLOW)
    assert x[:3] == [NOW - 400, trip, trip] and y[:3] == [11.8, 11.8, 9.0]  # vertical
    assert all(v == 11.8 for t, v in zip(x, y, strict=True) if t < trip)
    # polls of a changing value, 0.2 s apart: joined by lines, no corners between them
    assert list(zip(x[2:], y[2:], strict=True)) == falling
    assert drawn_at(trend, trip - 30, 11.8)
    assert not drawn_at(trend, trip - 30, 9.28)  # where a line from 11.8 to 9.0 would be


def test_setpoints_and_discrete_tags_step_even_when_samples_are_close(qtbot):
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock, tags=f"{SP}, {LEVEL}, {RUNNING}")
    soon = JOIN_SECONDS / 2  # closer than analog samples are joined by a line
    for name, old, new in ((SP, 3.2, 2.0), (LEVEL, 3.2, 2.0), (RUNNING, True, False)):
        store.update(name, Sample(old, source_time=NOW - 60))
        store.update(name, Sample(new, source_time=NOW - 60 + soon))
    frame(trend)
    # written by operators: exactly the value written until the next write
    assert trend.chart.live(SP) == ([NOW - 60, NOW - 60 + soon, NOW - 60 + soon], [3.2, 3.2, 2.0])
    assert trend.chart.live(RUNNING) == (
        [NOW - 60, NOW - 60 + soon, NOW - 60 + soon],
        [1.0, 1.0, 0.0],
    )
    # a measurement polled twice in a row: a line between the two polls
    assert trend.chart.live(LEVEL) == ([NOW - 60, NOW - 60 + soon], [3.2, 2.0])


def test_a_bad_sample_ends_the_line_at_its_own_time(qtbot):
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock, tags=LEVEL)
    store.update(LEVEL, Sample(2.0, source_time=NOW - 500))
    store.update(LEVEL, Sample(2.0, Quality.bad(Reason.NO_COMMUNICATION), NOW - 300))
    frame(trend)
    x, y = trend.chart.live(LEVEL)
    assert x == [NOW - 500, NOW - 300, NOW - 300] and y[:2] == [2.0, 2.0] and np.isnan(y[2])
    assert drawn_at(trend, NOW - 305, 2.0)  # held up to the comm loss ...
    assert not drawn_at(trend, NOW - 200, 2.0)  # ... not after it
    assert trend.chart.tail(LEVEL) == ([], [])


def test_a_comm_loss_ends_a_quiet_setpoints_line_when_it_went_bad_not_at_its_last_sample(
    qtbot,
):
    # What a driver publishes on comm loss (Sample.degraded): the last value and its source
    # time, BAD, received when the link was lost. The setpoint last changed 500 s ago.
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock, tags=SP)
    last = Sample(3.2, source_time=NOW - 500, receive_time=NOW - 500)
    store.update(SP, last)
    frame(trend)
    lost = last.degraded(Quality.bad(Reason.NO_COMMUNICATION), NOW - 100)
    store.update(SP, lost)
    frame(trend)
    x, y = trend.chart.live(SP)
    assert x[-2:] == [NOW - 100, NOW - 100] and y[-2] == 3.2 and np.isnan(y[-1])
    assert drawn_at(trend, NOW - 300, 3.2)  # held through the quiet stretch ...
    assert drawn_at(trend, NOW - 105, 3.2)  # ... up to the comm loss ...
    assert not drawn_at(trend, NOW - 50, 3.2)  # ... and not after it
    assert trend.chart.tail(SP) == ([], [])


def test_dense_data_is_decimated_by_time_keeping_a_step_in_its_own_column(qtbot):
    """pyqtgraph's peak mode bins a fixed number of points and draws each bin at one
    sample's time: with a silence inside a bin, a step is drawn up to the whole silence
    early. The trend's own decimation bins by pixel column."""
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock, tags=FLOW)
    rng = np.random.default_rng(1)
    trip = NOW - 200.0  # 20 Hz before a 200 s silence (unchanged), 20 Hz after the trip
    times = np.concatenate([np.arange(NOW - 600, NOW - 400, 0.05), np.arange(trip, NOW, 0.05)])
    values = np.where(times < trip, 11.8, 0.2) + rng.normal(0, 0.05, len(times))
    trend.buffer(FLOW).extend(times, values)
    trend.redraw()
    x, y = (np.array(a) for a in trend.chart.live(FLOW))
    pixels = trend.chart.pixels()
    assert len(x) <= 4 * (pixels + 2) < len(times)  # decimated: at most 4 per column
    assert (y[x < trip] > 11).all()  # never low before the trip (the silence held)
    assert x[np.argmax(y < 11)] == trip  # the step at the trip's first sample
    assert y.min() == values.min() and y.max() == values.max()  # every extreme is kept
