"""Trend buffering and live drawing; stock Qt widgets bound through a dynamic tag property."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QCheckBox, QProgressBar

from hmi.core import Quality, Reason, Sample
from hmi.qt.stock import bind_stock_widget
from hmi.widgets import Trend
from hmi.widgets.trend_buffer import RingBuffer
from tests.widgets.support import NOW, demo_store, feed_normal, make_context


def test_ring_buffer_keeps_the_newest_points_in_order_without_copies():
    ring = RingBuffer(4)
    for i in range(10):
        ring.append(float(i), float(i * 10))
    assert list(ring.times) == [6, 7, 8, 9] and list(ring.values) == [60, 70, 80, 90]
    assert ring.value_at(7.5) == 70 and ring.value_at(1.0) is None
    ring.extend(np.arange(10.0, 16.0), np.arange(100.0, 160.0, 10.0))  # wraps: one write
    assert list(ring.times) == [12, 13, 14, 15] and list(ring.values) == [120, 130, 140, 150]
    ring.clear()
    assert len(ring) == 0 and ring.value_at(20.0) is None


def test_trend_plots_every_sample_at_source_time_with_gaps_for_bad(qtbot, tmp_path, theme):
    store = demo_store()
    context = make_context(store)
    trend = Trend()
    qtbot.addWidget(trend)
    trend.tags = "area1/t101/level, area1/lic101/sp"
    trend.span = 60.0
    trend.tag_link.attach(context)
    trend.resize(480, 260)
    trend.show()
    for i in range(50):
        store.update("area1/t101/level", Sample(2 + i / 100, source_time=NOW - 50 + i))
    store.update("area1/t101/level", Sample(2.5, Quality.bad(Reason.NO_COMMUNICATION), NOW))
    context.binder.flush()
    buffer = trend.buffer("area1/t101/level")
    assert len(buffer) == 51 and buffer.times[0] == NOW - 50
    assert np.isnan(buffer.values[-1])  # BAD: a gap, not a made-up point
    trend.set_cursor(NOW - 10)
    assert "area1/t101/level = 2.4" in trend.readout_text()
    trend.pause()
    assert not trend.live
    assert trend.grab().save(str(tmp_path / "trend.png"))


def test_stock_widgets_show_and_write_without_feedback_loops(qtbot):
    store = demo_store()
    feed_normal(store)
    context = make_context(store)
    bar, box = QProgressBar(), QCheckBox()
    for widget in (bar, box):
        qtbot.addWidget(widget)
    bar.setProperty("tag", "area1/fv101/position")
    box.setProperty("tag", "area1/p101/start")
    bind_stock_widget(bar, context)
    bind_stock_widget(box, context)
    assert bar.value() == 46 and box.isChecked()
    store.update("area1/p101/start", Sample(False))
    context.binder.flush()
    assert not box.isChecked() and context.sink.commands == []  # showing never writes
    box.click()
    assert [c.value for c in context.sink.commands] == [True]
