"""Trends an operator can read (issue 14): one titled axis per unit, aligned time axes,
Live restores autoscale, values in each tag's format (tooltip, cursor, CSV)."""

from __future__ import annotations

import csv

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from hmi.core import Sample
from hmi.core.tag import DataType, Tag
from hmi.qt.format import format_value
from hmi.widgets import Trend
from tests.widgets.support import NOW, demo_store, feed_normal, make_context
from tests.widgets.test_trend_live import Clock, frame, open_live

LEVEL = "area1/t101/level"
SP = "area1/lic101/sp"
TEMPERATURE = "area1/t101/temperature"
POWER = "area1/e101/power"
POSITION = "area1/fv101/position"
RUNNING = "area1/p101/running"
TRIPPED = "area1/p101/tripped"


def plot_left_right(window: QWidget, trend: Trend) -> set[tuple[int, int]]:
    """Where each row's plot area starts and ends, in window pixels."""
    edges = set()
    for row in trend.chart.rows:
        rect = row.viewbox.sceneBoundingRect()
        left = trend.plot.mapTo(window, trend.plot.mapFromScene(rect.topLeft()))
        right = trend.plot.mapTo(window, trend.plot.mapFromScene(rect.topRight()))
        edges.add((left.x(), right.x()))
    return edges


def test_each_unit_has_its_own_titled_axis_and_the_time_axes_line_up(qtbot):
    store = demo_store()
    feed_normal(store)
    context = make_context(store)
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    top, bottom = Trend(), Trend()
    top.tags = f"{LEVEL}, {SP}"
    bottom.tags = f"{TEMPERATURE}, {POWER}, {POSITION}"
    for trend in (top, bottom):
        layout.addWidget(trend)
    window.resize(900, 700)
    window.show()
    qtbot.waitExposed(window)
    for trend in (top, bottom):
        trend.tag_link.attach(context)
    QApplication.processEvents()
    # level and its setpoint share metres; °C, kW and % get one axis each
    assert [row.title() for row in top.chart.rows] == ["m"]
    assert [row.title() for row in bottom.chart.rows] == ["°C", "kW", "%"]
    assert [row.group.names for row in bottom.chart.rows] == [(TEMPERATURE,), (POWER,), (POSITION,)]
    # every plot area, of both trends, spans the same pixel columns: times line up
    edges = plot_left_right(window, top) | plot_left_right(window, bottom)
    assert len(edges) == 1, edges
    # times are written under the bottom row only (the rows above keep the grid)
    shows_times = [r.item.getAxis("bottom").style["showValues"] for r in bottom.chart.rows]
    assert shows_times == [False, False, True]


def test_bools_share_one_off_on_axis(qtbot):
    store = demo_store()
    trend = open_live(qtbot, store, Clock(), tags=f"{RUNNING}, {TRIPPED}, {LEVEL}")
    rows = trend.chart.rows
    assert [row.title() for row in rows] == ["state", "m"]
    ticks = rows[0].item.getAxis("left")._tickLevels
    assert ticks == [[(0.0, "OFF"), (1.0, "ON")]]


def drag(trend: Trend, start: QPointF, end: QPointF) -> None:
    """The operator drags the plot with the left mouse button (pans it)."""
    viewport = trend.plot.viewport()
    buttons = Qt.MouseButton.LeftButton
    steps = [start + (end - start) * (k / 8) for k in range(9)]
    events = [(QEvent.Type.MouseButtonPress, steps[0], buttons)]
    events += [(QEvent.Type.MouseMove, p, buttons) for p in steps[1:]]
    events += [(QEvent.Type.MouseButtonRelease, steps[-1], Qt.MouseButton.NoButton)]
    for kind, point, held in events:
        global_point = QPointF(viewport.mapToGlobal(point.toPoint()))
        button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else buttons
        event = QMouseEvent(kind, point, global_point, button, held, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, event)


def test_live_restores_y_autoscale_after_a_pan(qtbot):
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock, tags=LEVEL)
    for i in range(60):
        store.update(LEVEL, Sample(2.0 + i / 100, source_time=NOW - 300 + 5 * i))
    frame(trend)
    trend.plot.grab()  # painted: autoscale applied
    viewbox = trend.chart.viewbox
    low, high = viewbox.viewRange()[1]
    assert low <= 2.0 and high >= 2.59
    middle = viewbox.mapViewToScene(QPointF(NOW - 300, (low + high) / 2))
    point = QPointF(trend.plot.mapFromScene(middle))
    # to the past, and the data down, off the plot
    drag(trend, point, point + QPointF(-100, 1.2 * viewbox.height()))
    assert not trend.live  # panning pauses
    assert viewbox.viewRange()[1][0] > 2.59  # Y moved with the mouse: the values are below
    assert not viewbox.autoRangeEnabled()[1]
    store.update(LEVEL, Sample(3.5, source_time=NOW + 1))  # meanwhile the level rises
    clock.t = NOW + 2
    trend.pause_button.click()  # Live
    assert trend.live and viewbox.autoRangeEnabled()[1]
    trend.plot.grab()
    low, high = viewbox.viewRange()[1]
    assert low <= 2.0 and high >= 3.5  # every value in view again, the new one too
    assert trend.chart.view_range() == (NOW + 2 - 600, NOW + 2)


def test_tooltip_cursor_and_csv_show_values_in_each_tags_format(qtbot, tmp_path):
    store, clock = demo_store(), Clock()
    trend = open_live(qtbot, store, clock, tags=f"{LEVEL}, {SP}, {RUNNING}")
    level = float(np.float32(2.579763174057007))  # a float32 register, read as a float
    setpoint = float(np.float32(3.2))  # 3.200000047683716
    store.update(LEVEL, Sample(level, source_time=NOW - 30))
    store.update(SP, Sample(setpoint, source_time=NOW - 30))
    store.update(RUNNING, Sample(True, source_time=NOW - 30))
    frame(trend)
    tip = trend.toolTip()
    assert "Value: 2.58 m" in tip and "Value: 3.20 m" in tip and "Value: ON" in tip
    assert "2.5797" not in tip and "3.2000" not in tip
    trend.set_cursor(NOW - 10)
    readout = trend.readout_text()
    assert readout.endswith(f"{LEVEL} = 2.58 m | {SP} = 3.20 m | {RUNNING} = ON"), readout
    trend.export_csv(tmp_path / "trend.csv")
    with (tmp_path / "trend.csv").open(newline="") as file:
        table = {r["tag"]: r for r in csv.DictReader(file)}
    assert (table[LEVEL]["value"], table[LEVEL]["unit"]) == ("2.58", "m")
    assert (table[SP]["value"], table[SP]["unit"]) == ("3.20", "m")
    assert table[RUNNING]["value"] == "1"  # a number in a file


def test_format_value_never_prints_binary_noise():
    plain = Tag("a/b/x", DataType.FLOAT32, unit="m")  # no format
    formatted = Tag("a/b/y", DataType.FLOAT32, unit="m", format=".2f")
    assert format_value(3.200000047683716, plain) == "3.2"
    assert format_value(2.579763174057007, plain, with_unit=True) == "2.57976 m"
    assert format_value(2.579763174057007, formatted, with_unit=True) == "2.58 m"
    assert format_value(3.200000047683716, formatted) == "3.20"
    assert format_value(-0.0, plain) == "0" and format_value(1e-7, plain) == "1e-07"
    # plotted values are floats: shown as the tag's type
    assert format_value(1234.0, Tag("a/b/n", DataType.UINT16)) == "1234"
    assert format_value(1.0, Tag("a/b/s", DataType.BOOL)) == "ON"
    assert format_value(float("nan"), formatted) == "----"
    assert format_value(None, formatted, with_unit=True) == "---- m"  # as before
    assert format_value(46.0, None) == "46"
