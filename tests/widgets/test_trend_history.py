"""Trend backfill from history (asynchronous, newest range wins), gaps, CSV export, lazy import.

History answers come from a real HistoryStore (the historian's storage) so their shape is the
historian's; the test decides when each answer arrives, so ordering is deterministic.
"""

from __future__ import annotations

import asyncio
import csv
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import qasync

from hmi.core import Quality, Reason, Sample
from hmi.services.history_store import HistoryStore
from hmi.widgets import Trend
from hmi.widgets.trend_series import HistorySegment, MalformedHistory, TagSeries
from tests.widgets.support import NOW, demo_store, make_context

LEVEL = "area1/t101/level"
SP = "area1/lic101/sp"


@pytest.fixture
def loop(qapp):
    """An asyncio loop driven by Qt's events, as under qasync in the application."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    yield loop
    for task in asyncio.all_tasks(loop):
        task.cancel()
    qapp.processEvents()  # the cancellations run
    asyncio._set_running_loop(None)
    # Not loop.stop(): it calls QApplication.exit(), which sets Qt's quitNow, and every
    # later nested Qt event loop (qtbot.waitSignal, qtbot.wait) would return at once.
    loop._QEventLoop__is_running = False
    loop.close()


@pytest.fixture
def store_file(tmp_path):
    """An hour of history: LEVEL every 10 s with a comm loss (BAD) 400 s to 300 s ago."""
    path = tmp_path / "history.sqlite"
    rows: list[Any] = []
    for i in range(360):
        t = NOW - 3600 + 10 * i
        bad = NOW - 400 <= t < NOW - 300
        rows.append((LEVEL, t, None if bad else 1.0 + i / 100, 2 if bad else 0))
        rows.append((SP, t, 2.5, 0))
    with HistoryStore(path) as store:
        store.insert(rows)
    return path


class ScriptedHistory:
    """``context.history`` whose answers the test releases one by one (or fails).

    Answers are the historian's: a real store, gaps where nothing was recorded for longer
    than the historian's limit (60 s maximum interval, 1 s flushes: 67 s).
    """

    def __init__(self, path: Path) -> None:
        self.store = HistoryStore(path, readonly=True)
        self.asked: list[tuple[str, float, float, int]] = []
        self._waiting: list[asyncio.Future[None]] = []

    async def __call__(self, tag: str, start: float, end: float, width: int) -> dict[str, Any]:
        self.asked.append((tag, start, end, width))
        gate = asyncio.get_running_loop().create_future()
        self._waiting.append(gate)
        await gate
        return self.store.buckets(tag, start, end, width, gap_after=67.0, now=NOW).to_dict()

    def release(self, error: Exception | None = None) -> None:
        """Let the oldest waiting query answer (or raise ``error``)."""
        gate = self._waiting.pop(0)
        if error is None:
            gate.set_result(None)
        else:
            gate.set_exception(error)

    @property
    def waiting(self) -> int:
        return len(self._waiting)


def open_trend(qtbot, history: Any, tags: str = LEVEL, clock: Any = None) -> tuple[Trend, Any]:
    store = demo_store()
    context = make_context(store)
    context.history = history
    if clock is not None:
        context.clock = clock
    trend = Trend()
    qtbot.addWidget(trend)
    trend.tags = tags
    trend.span = 600.0
    trend.resize(600, 300)
    trend.show()
    qtbot.waitExposed(trend)
    trend.tag_link.attach(context)
    return trend, store


def test_segment_draws_each_bucket_then_holds_its_last_value_and_ends_at_bad_rows():
    # Rewritten for issue 14: it asserted a min/max envelope at each bucket's middle joined
    # by straight lines (a ramp across buckets without rows). Now a bucket is drawn from
    # its first row to its last, whose value holds (a step) until the next row.
    answer = {
        # the value in effect at the start (a row at -30), then buckets of 10 s
        "t": [0.0, 0.0, 10.0, 20.0, 40.0],
        "first_t": [-30.0, 2.0, 12.0, 21.0, 41.0],
        "last_t": [-30.0, 8.0, 18.0, 29.0, 41.0],
        "first": [1.0, 1.0, 2.0, None, 4.0],
        "last": [1.0, 1.5, 2.5, None, 4.0],
        "min": [1.0, 1.0, 2.0, None, 4.0],
        "max": [1.0, 1.5, 2.5, None, 4.0],
        "avg": [1.0, 1.2, 2.2, None, 4.0],
        "count": [0, 3, 2, 0, 1],
        "bad": [0, 0, 1, 4, 0],  # bucket 2 holds a BAD row but ends GOOD; bucket 3 all BAD
        "gap": [0, 0, 0, 0, 0],
    }
    segment = HistorySegment.from_buckets(answer, 0.0, 50.0, 5)
    series = TagSeries(100)  # an analog tag: joined only between samples 2 s apart at most
    series.history = segment
    series.live.append(42.0, 9.0)
    x, y = series.history_points()
    assert list(x) == [
        *(0, 0, 0, 0),  # the value in effect at the start, drawn from the start
        *(2, 8, 8, 8),  # first row, range, last row
        *(12, 12, 18, 18, 18),  # 1.5 held until the next row at 12, then a step
        *(21, 21, 29, 29, 29),  # 2.5 held up to the BAD row at 21, then nothing
        *(41, 41, 41, 41, 42),  # joined to live data (1 s apart: a line)
    ]
    assert np.array_equal(
        y,
        [
            *(1, 1, 1, 1),
            *(1, 1, 1.5, 1.5),
            *(1.5, 2, 2, 2.5, 2.5),
            *(2.5, np.nan, np.nan, np.nan, np.nan),
            *(4, 4, 4, 4, 9),
        ],
        equal_nan=True,
    )
    assert series.value_at(5.0) == 1.2  # among a bucket's rows: its average
    assert series.value_at(10.0) == 1.5  # after them: its last value, held
    assert math.isnan(series.value_at(25.0)) and math.isnan(series.value_at(35.0))  # BAD
    assert series.value_at(43.0) == 9.0
    quiet = TagSeries(100)  # nothing live yet: the last stored value holds until live data
    quiet.history, quiet.live_since = segment, 60.0
    x, y = quiet.history_points()
    assert list(x[-2:]) == [41, 50] and list(y[-2:]) == [4, 4]  # to its end
    # an older historian's answer (no first and last rows) still draws, at bucket middles
    old = {k: answer[k][1:] for k in ("t", "min", "max", "avg", "count", "bad")}
    x, _ = HistorySegment.from_buckets(old, 0.0, 50.0, 5).points()
    assert list(x[:4]) == [5, 5, 5, 5]
    with pytest.raises(MalformedHistory):
        HistorySegment.from_buckets({"t": [1.0]}, 0.0, 1.0, 1)


def test_series_asks_only_for_what_live_data_and_held_history_do_not_show():
    series = TagSeries(100)
    series.live_since = 1000.0
    assert series.missing(400.0, 1000.0, 600) == (400.0, 1000.0, 600)
    series.history = HistorySegment.from_buckets(
        {"t": [], "min": [], "max": [], "avg": [], "count": [], "bad": []}, 400.0, 1000.0, 600
    )
    assert series.missing(400.0, 1000.0, 600) is None
    assert series.missing(700.0, 1300.0, 600) is None  # the rest is live
    assert series.missing(500.0, 800.0, 600) is None  # zoomed in twice: still fine enough
    assert series.missing(500.0, 650.0, 600) == (500.0, 650.0, 600)  # further: finer
    assert series.missing(100.0, 700.0, 600) == (100.0, 700.0, 600)  # panned into the past


def test_trend_backfills_when_it_opens_and_shows_bad_periods_as_gaps(qtbot, loop, store_file):
    history = ScriptedHistory(store_file)
    trend, store = open_trend(qtbot, history)
    qtbot.waitUntil(lambda: history.waiting == 1)
    tag, start, end, width = history.asked[0]
    assert (tag, start, end) == (LEVEL, NOW - 600, NOW)
    assert width == pytest.approx(trend.chart.pixels(), rel=0.05)  # one bucket per pixel
    assert trend.note.text() == "Loading history ..."
    # live samples keep arriving while the answer travels: the GUI is not blocked
    store.update(LEVEL, Sample(9.0, source_time=NOW + 1))
    with qtbot.waitSignal(trend.history_loaded):
        history.release()
    assert trend.note.text() == ""
    segment = trend.series(LEVEL).history
    assert segment is not None and segment.start == NOW - 600
    x, y = trend.series(LEVEL).history_points()
    assert x[0] < NOW - 590 and x[-1] == NOW + 1 and y[-1] == 9.0  # joined to live data
    in_gap = (x > NOW - 395) & (x < NOW - 305)
    assert in_gap.any() and np.isnan(y[in_gap]).all()  # the comm loss is a gap
    assert np.isfinite(y[x < NOW - 410]).all()
    trend.set_cursor(NOW - 500)
    assert f"{LEVEL} = 4.1" in trend.readout_text()  # the bucket's average
    assert len(history.asked) == 1  # covered: scrolling does not ask again


def test_panning_keeps_one_request_in_flight_and_the_newest_range_wins(qtbot, loop, store_file):
    history = ScriptedHistory(store_file)
    trend, _ = open_trend(qtbot, history)
    qtbot.waitUntil(lambda: history.waiting == 1)
    viewbox = trend.chart.viewbox
    for shift in (-300, -300, -300):  # three drags while the first answer travels
        viewbox.translateBy(x=shift)
        viewbox.sigRangeChangedManually.emit([True, False])
    assert not trend.live  # panning pauses
    assert history.waiting == 1  # still one query
    history.release()  # the answer for the opening range: stale now, dropped
    qtbot.waitUntil(lambda: history.waiting == 1 and len(history.asked) == 2)
    assert trend.series(LEVEL).history is None
    assert history.asked[1][1:3] == pytest.approx((NOW - 1500, NOW - 900))
    with qtbot.waitSignal(trend.history_loaded):
        history.release()
    segment = trend.series(LEVEL).history
    assert segment is not None and segment.start == pytest.approx(NOW - 1500)
    assert trend._loader.dropped == 1
    # zooming in asks for finer buckets of the smaller range
    trend.chart.set_view(NOW - 1300, NOW - 1200)
    qtbot.waitUntil(lambda: history.waiting == 1)
    assert history.asked[2][1:3] == pytest.approx((NOW - 1300, NOW - 1200))


def test_history_errors_show_in_the_widget_and_are_not_retried_in_a_loop(qtbot, loop, store_file):
    history = ScriptedHistory(store_file)
    trend, store = open_trend(qtbot, history)
    qtbot.waitUntil(lambda: history.waiting == 1)
    with qtbot.waitSignal(trend.history_failed) as failed:
        history.release(TimeoutError("no answer from historian within 5 s"))
    assert failed.args[0] == LEVEL
    assert trend.note.text().startswith("History unavailable: no answer from historian")
    store.update(LEVEL, Sample(2.0, source_time=NOW + 1))
    trend.redraw()  # the widget keeps working
    trend.chart.set_view(NOW - 900, NOW)  # not the operator: no new request
    assert len(history.asked) == 1
    trend.chart.viewbox.sigRangeChangedManually.emit([True, False])  # the operator pans
    qtbot.waitUntil(lambda: history.waiting == 1)
    with qtbot.waitSignal(trend.history_loaded):
        history.release()
    assert trend.note.text() == ""


def test_failed_history_is_asked_again_after_1_2_5_s_then_only_when_the_operator_acts(
    qtbot, loop, store_file
):
    # e.g. ``hmi run`` opening on a trends screen before the historian is up
    history = ScriptedHistory(store_file)
    now = [NOW]
    trend, _ = open_trend(qtbot, history, clock=lambda: now[0])
    context = trend.tag_link.context
    context.binder.stop()  # frames run when the test says

    def frame_at(t: float) -> None:
        now[0] = t
        context.binder.flush()

    qtbot.waitUntil(lambda: history.waiting == 1)
    for attempt, delay in enumerate((1.0, 2.0, 5.0), start=1):
        failed_at = now[0]
        with qtbot.waitSignal(trend.history_failed):
            history.release(LookupError("no RPC target 'historian'"))
        assert trend.note.text() == "History unavailable: no RPC target 'historian'"
        assert f"Asking again in {delay:.0f} s" in trend.note.toolTip()
        frame_at(failed_at + delay - 0.5)
        assert len(history.asked) == attempt  # not yet
        frame_at(failed_at + delay)
        qtbot.waitUntil(lambda: history.waiting == 1)
        assert len(history.asked) == attempt + 1
        # for what the view shows now: live, it scrolled with the clock
        assert history.asked[-1][1] == pytest.approx(now[0] - 600, abs=1.0)
    with qtbot.waitSignal(trend.history_failed):
        history.release(LookupError("no RPC target 'historian'"))  # the 4th failure in a row
    assert "Pan, zoom or press Pause/Live to ask again" in trend.note.toolTip()
    frame_at(now[0] + 120)
    assert len(history.asked) == 4 and history.waiting == 0  # bounded: no more by itself
    trend.pause()  # the operator acts
    qtbot.waitUntil(lambda: history.waiting == 1)
    with qtbot.waitSignal(trend.history_loaded):
        history.release()
    assert trend.note.text() == ""
    assert trend._loader.next_retry(LEVEL) is None


def test_a_stretch_the_historian_did_not_record_is_a_gap_not_a_flat_line(qtbot, loop, tmp_path):
    path = tmp_path / "history.sqlite"
    # A quiet setpoint stored on change, a row per maximum interval (60 s); the historian
    # was stopped from NOW - 400 to NOW - 200.
    rows = [(SP, float(t), 2.5, 0) for t in range(int(NOW) - 600, int(NOW) - 399, 60)]
    rows += [(SP, float(t), 2.5, 0) for t in range(int(NOW) - 200, int(NOW), 60)]
    with HistoryStore(path) as store:
        store.insert(rows)
    history = ScriptedHistory(path)
    trend, _ = open_trend(qtbot, history, tags=SP)
    qtbot.waitUntil(lambda: history.waiting == 1)
    with qtbot.waitSignal(trend.history_loaded):
        history.release()
    x, y = trend.series(SP).history_points()
    assert np.isfinite(y[x < NOW - 430]).all() and len(y[x < NOW - 430]) >= 6  # joined
    after_stop = int(np.searchsorted(x, NOW - 419))  # past the bucket of the row at -420
    assert np.isnan(y[after_stop - 1]) and x[after_stop] > NOW - 201  # the line ends there
    assert y[-1] == 2.5 and x[-1] == NOW  # after the restart, held up to live data
    trend.set_cursor(NOW - 300)
    assert f"{SP} = ----" in trend.readout_text()
    trend.set_cursor(NOW - 450)
    assert f"{SP} = 2.5" in trend.readout_text()
    trend.export_csv(tmp_path / "sp.csv")
    with (tmp_path / "sp.csv").open(newline="") as file:
        marked = [r for r in csv.DictReader(file) if r["gap"] == "1"]
    assert [float(r["epoch_s"]) for r in marked] == [pytest.approx(NOW - 420, abs=1.0)]


def test_a_malformed_answer_or_no_event_loop_is_a_note_not_a_crash(qtbot, loop):
    async def nonsense(tag: str, start: float, end: float, width: int) -> dict[str, Any]:
        return {"t": [1.0, 2.0], "min": [1.0]}

    trend, _ = open_trend(qtbot, nonsense)
    qtbot.waitUntil(lambda: trend.note.text().startswith("History unavailable"))
    assert trend.series(LEVEL).history is None


def test_without_a_running_loop_the_note_says_so(qtbot):
    async def never(tag: str, start: float, end: float, width: int) -> dict[str, Any]:
        raise AssertionError("not called")

    trend, _ = open_trend(qtbot, never)
    assert "no running event loop" in trend.note.toolTip()


def test_reopening_replaces_missed_live_data_by_history(qtbot, loop, store_file):
    history = ScriptedHistory(store_file)
    trend, store = open_trend(qtbot, history)
    qtbot.waitUntil(lambda: history.waiting == 1)
    history.release()
    store.update(LEVEL, Sample(2.0, source_time=NOW + 1))
    context = trend.tag_link.context
    trend.tag_link.detach()  # the screen is hidden ...
    store.update(LEVEL, Sample(2.2, source_time=NOW + 20))  # ... samples it does not see
    store.update(LEVEL, Sample(2.3, source_time=NOW + 50))
    context.clock = lambda: NOW + 100  # ... for a while
    trend.tag_link.attach(context)
    # Only the store's latest sample is live again (in effect since its time) ...
    buffer = trend.buffer(LEVEL)
    assert list(buffer.times) == [NOW + 50] and list(buffer.values) == [2.3]
    # ... the stretch before it comes from history
    qtbot.waitUntil(lambda: history.waiting == 1)
    assert history.asked[-1][1:3] == (NOW + 100 - 600, NOW + 50)


def test_csv_export_holds_every_pen_in_the_visible_range(qtbot, loop, store_file, tmp_path):
    history = ScriptedHistory(store_file)
    trend, store = open_trend(qtbot, history, tags=f"{LEVEL}, {SP}")
    qtbot.waitUntil(lambda: history.waiting == 2)
    history.release()
    history.release()
    qtbot.waitUntil(lambda: all(trend.series(n).history is not None for n in (LEVEL, SP)))
    store.update(LEVEL, Sample(2.0, source_time=NOW + 1))
    store.update(LEVEL, Sample(2.0, Quality.bad(Reason.NO_COMMUNICATION), NOW + 2))
    trend.clock = lambda: NOW + 3
    trend.redraw()
    path = tmp_path / "trend.csv"
    rows = trend.export_csv(path)
    with path.open(newline="") as file:
        table = list(csv.DictReader(file))
    assert len(table) == rows > 0
    assert list(table[0]) == [
        *("tag", "time", "epoch_s", "source", "value", "min", "max", "unit", "bad", "gap")
    ]
    assert {r["tag"] for r in table} == {LEVEL, SP}
    epochs = [float(r["epoch_s"]) for r in table]
    assert min(epochs) >= NOW + 3 - 600 - 2 and max(epochs) <= NOW + 3
    gaps = [r for r in table if r["tag"] == LEVEL and r["bad"] == "1"]
    assert any(r["source"] == "history" for r in gaps)  # the comm loss, from history
    assert gaps[-1]["source"] == "live" and gaps[-1]["value"] == ""  # the BAD live sample
    live = [r for r in table if r["source"] == "live"]
    assert [float(r["epoch_s"]) for r in live] == [NOW + 1, NOW + 2]
    # values in the tag's format (.2f), the unit beside them
    assert live[0]["value"] == "2.00" and {r["unit"] for r in table} == {"m"}
    history_row = next(r for r in table if r["source"] == "history" and r["bad"] == "0")
    assert float(history_row["min"]) <= float(history_row["value"]) <= float(history_row["max"])
    assert table[0]["time"].startswith("2023-11-1")  # ISO 8601, local time


def test_the_csv_button_asks_where_and_reports_rows(qtbot, monkeypatch, tmp_path):
    trend, store = open_trend(qtbot, None)
    store.update(LEVEL, Sample(2.0, source_time=NOW - 1))
    trend.redraw()
    target = tmp_path / "out.csv"
    monkeypatch.setattr(
        "hmi.widgets.trend.QFileDialog.getSaveFileName", lambda *a, **k: (str(target), "")
    )
    trend.export_button.click()
    assert target.read_text().count("\n") == 2
    assert trend.note.text() == "1 row exported"


def test_importing_the_widgets_does_not_import_pyqtgraph_until_a_trend_is_built():
    code = (
        "import sys, hmi.widgets\n"
        "from hmi.qt.registry import widget_class\n"
        "assert widget_class('Trend') is not None\n"
        "assert 'pyqtgraph' not in sys.modules and 'numpy' not in sys.modules\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "hmi.widgets.Trend()\n"
        "assert 'pyqtgraph' in sys.modules\n"
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
    root = Path(__file__).parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
