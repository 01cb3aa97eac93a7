"""History is truthful in time too (issue 14): the value in effect at the left edge, steps
vertical at the change, buckets without rows held (not a ramp), the line ending at a BAD row.

Answers come from a real HistoryStore through the same scripted history source as
tests/widgets/test_trend_history.py; the assertions are on the points drawn and pixels.
"""

from __future__ import annotations

import math

import numpy as np

from hmi.services.history_store import HistoryStore
from hmi.widgets import Trend
from tests.widgets import test_trend_history as base
from tests.widgets.support import NOW
from tests.widgets.test_trend_history import ScriptedHistory, open_trend
from tests.widgets.test_trend_live import drawn_at

#: the asyncio loop driven by Qt's events (the same fixture)
loop = base.loop
SP = "area1/lic101/sp"


def heartbeats(
    tag: str, value: float, start: float, end: float
) -> list[tuple[str, float, float, int]]:
    """Rows of a quiet tag stored on change: one per maximum interval (60 s)."""
    return [(tag, float(t), value, 0) for t in np.arange(start, end, 60.0)]


def load(qtbot, history: ScriptedHistory, tags: str) -> Trend:
    trend, _ = open_trend(qtbot, history, tags=tags)
    names = [n.strip() for n in tags.split(",")]
    qtbot.waitUntil(lambda: history.waiting == len(names))
    for _ in names:
        history.release()
    qtbot.waitUntil(lambda: all(trend.series(n).history is not None for n in names))
    return trend


def test_a_setpoint_step_in_history_is_vertical_at_the_change_time(qtbot, loop, tmp_path):
    path = tmp_path / "history.sqlite"
    old, new = float(np.float32(3.2)), float(np.float32(2.0))  # float32 registers
    change = NOW - 290.0
    rows = heartbeats(SP, old, NOW - 3600, change) + heartbeats(SP, new, change, NOW)
    with HistoryStore(path) as store:
        store.insert(rows)
    trend = load(qtbot, ScriptedHistory(path), SP)
    x, y = trend.series(SP).history_points()
    # the value in effect at the left edge (its row is 50 s before the view) from the edge
    assert x[0] == NOW - 600 and y[0] == old
    assert (y[x < change] == old).all()
    at = int(np.argmax(y == new))
    assert (x[at - 1], y[at - 1]) == (change, old) and x[at] == change  # vertical there
    assert drawn_at(trend, change - 5, old) and drawn_at(trend, change + 5, new)
    # the old drawing joined the bucket of the heartbeat 50 s before to the change: a ramp
    assert not drawn_at(trend, change - 25, (old + new) / 2)
    trend.set_cursor(change - 10)
    assert f"{SP} = 3.20 m" in trend.readout_text()  # the tag's format, not 3.200000047683716
    trend.set_cursor(change + 10)
    assert f"{SP} = 2.00 m" in trend.readout_text()


def test_an_empty_stretch_of_history_is_held_not_interpolated(qtbot, loop, tmp_path):
    """A pump trip: the flow steady (heartbeat rows only), then falling in 2 s."""
    flow = "area1/ft102/flow"
    path = tmp_path / "history.sqlite"
    trip = NOW - 200.0  # 40 s after the last heartbeat (NOW - 240): no rows in between
    rows = heartbeats(flow, 11.8, NOW - 3600, trip)
    rows += [(flow, trip + 0.2 * k, 11.8 - 1.18 * (k + 1), 0) for k in range(10)]
    rows += heartbeats(flow, 0.0, trip + 60, NOW)
    with HistoryStore(path) as store:
        store.insert(rows)
    trend = load(qtbot, ScriptedHistory(path), flow)
    x, y = trend.series(flow).history_points()
    assert (y[x < trip] == 11.8).all()  # held across the empty buckets, no ramp ...
    assert x[np.argmax(y < 11.8)] == trip  # ... and falling from the trip on
    assert y[-1] == 0.0 and x[-1] == NOW


def test_the_held_line_in_history_ends_at_the_bad_row(qtbot, loop, tmp_path):
    path = tmp_path / "history.sqlite"
    lost = NOW - 300.0  # comm loss, 40 s after the last row; nothing recorded since
    rows = [*heartbeats(SP, 2.5, NOW - 3600, lost), (SP, lost, None, 2)]
    with HistoryStore(path) as store:
        store.insert(rows)
    trend = load(qtbot, ScriptedHistory(path), SP)
    x, y = trend.series(SP).history_points()
    finite = np.isfinite(y)
    assert x[finite][-1] == lost and y[finite][-1] == 2.5  # held up to the BAD row's time
    assert np.isnan(y[x > lost]).all()
    assert trend.series(SP).value_at(lost - 1) == 2.5
    assert math.isnan(trend.series(SP).value_at(lost + 1))
