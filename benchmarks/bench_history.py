"""Historian speed: sustained insert rate and one week decimated to 2,000 points.

Prints a few human lines, then one JSON line (last) with:

- ``insert_samples_per_s``: rows/s through :meth:`HistoryStore.insert` (tag ids, ms times,
  one transaction per flush), flushes of one second of a 2,000-tag plant at 100 Hz;
- ``ingest_samples_per_s``: the same through the store-on-change recorder first (every
  sample changes, so every sample is kept: the worst case);
- ``baseline_executemany_per_s``: plain ``sqlite3`` ``executemany`` of the same rows into
  an unindexed rowid table, same pragmas, same transactions (the floor of what SQLite does);
- ``query_decimate_ms``: one tag's week at 1 s (604,800 rows) to 2,000 buckets of
  min/max/avg with each bucket's first and last row, the value in effect at the start, and
  gaps marked as the historian asks (default limit 67 s), median of 5;
- ``baseline_groupby_ms``: the same aggregation written as ``GROUP BY (t - lo) / step``;
- ``trend_fps``, ``pyqtgraph_fps``, ``trend_fps_ratio``: a trend of 1,000,000 points (one
  pen, 10 Hz, all of them in view) live: each frame one new sample arrives, the view
  scrolls and the widget is fully repainted (``grab()``: every item painted, offscreen).
  Ours is a :class:`~hmi.widgets.trend.Trend` fed through the TagStore and its repaint
  frame (which also holds the last value up to now: the tail, and clips, decimates by
  time and draws held values as steps itself: hmi/widgets/trend_shape.py); the baseline
  is a plain pyqtgraph ``PlotWidget`` the size of the Trend's plot with pyqtgraph's own
  peak auto-downsampling, clip to view, date axis, grid and pen, fed with ``setData`` +
  ``setXRange``. Frames alternate between the two, so background
  load hits both alike; fps = 1 / median frame time. ``trend_static_ratio`` is the same
  with repaints only (no new data, no scrolling).

Targets (issue 7): insert >= 200,000/s, decimate <= 150 ms, trend_fps_ratio >= 0.7.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hmi.core.quality import GOOD
from hmi.core.sample import Sample
from hmi.services.history_store import HistoryStore
from hmi.services.recorder import ChangeRecorder

T0 = 1_700_000_000.0
TAGS = 2000
RATE = 100  # samples per tag per second of plant time
FLUSHES = 8
WEEK = 7 * 24 * 3600
WIDTH = 2000
TREND_POINTS = 1_000_000
TREND_DT = 0.1  # seconds between samples (10 Hz)
TREND_FRAMES = 100
#: the historian's gap limit with its defaults (max_interval 60 s, flush 1 s, 5 s slack)
GAP_AFTER = 67.0


def flush_rows(second: int) -> list[tuple[str, float, float, int]]:
    """One flush interval (1 s) of the whole plant, in arrival order (time, then tag)."""
    base = T0 + second
    return [
        (f"plant/area{k % 20}/t{k}", base + i / RATE, float(k + i), 0)
        for i in range(RATE)
        for k in range(TAGS)
    ]


def bench_store(folder: Path) -> float:
    batches = [flush_rows(s) for s in range(FLUSHES)]
    with HistoryStore(folder / "store.sqlite") as store:
        store.insert(flush_rows(-1))  # tag ids exist, as in a running historian
        start = time.perf_counter()
        for rows in batches:
            store.insert(rows)
        elapsed = time.perf_counter() - start
    return FLUSHES * TAGS * RATE / elapsed


def bench_ingest(folder: Path) -> float:
    recorder = ChangeRecorder(max_interval=60.0)
    batches = []
    for s in range(FLUSHES):
        rows = flush_rows(s)
        batches.append([(name, Sample(v, GOOD, t, t)) for name, t, v, _ in rows])
    with HistoryStore(folder / "ingest.sqlite") as store:
        store.insert(flush_rows(-1))
        start = time.perf_counter()
        for samples in batches:
            offer = recorder.offer
            for name, sample in samples:
                offer(name, sample)
            store.insert(recorder.take())
        elapsed = time.perf_counter() - start
    return FLUSHES * TAGS * RATE / elapsed


def bench_baseline_insert(folder: Path) -> float:
    ids = {f"plant/area{k % 20}/t{k}": k for k in range(TAGS)}
    batches = [
        [(ids[n], round(t * 1000), v, q) for n, t, v, q in flush_rows(s)] for s in range(FLUSHES)
    ]
    db = sqlite3.connect(str(folder / "plain.sqlite"), isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("CREATE TABLE samples (tag_id INTEGER, t INTEGER, value REAL, quality INTEGER)")
        start = time.perf_counter()
        for rows in batches:
            db.execute("BEGIN")
            db.executemany("INSERT INTO samples VALUES (?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        elapsed = time.perf_counter() - start
    finally:
        db.close()
    return FLUSHES * TAGS * RATE / elapsed


def bench_decimate(folder: Path) -> tuple[float, float, int]:
    tag = "plant/area1/week"
    with HistoryStore(folder / "week.sqlite") as store:
        chunk = 86_400
        for day in range(7):
            store.insert(
                [
                    (tag, T0 + s, 50.0 + 10.0 * math.sin(s / 3600.0), 0)
                    for s in range(day * chunk, (day + 1) * chunk)
                ]
            )
        store.insert([("plant/area1/other", T0 + s, 1.0, 0) for s in range(0, WEEK, 10)])
        times, points = [], 0
        for _ in range(5):
            start = time.perf_counter()
            buckets = store.buckets(tag, T0, T0 + WEEK, WIDTH, gap_after=GAP_AFTER, now=T0 + WEEK)
            times.append((time.perf_counter() - start) * 1000)
            points = len(buckets.t)
        assert sum(buckets.count) == WEEK and not any(buckets.gap)
        # Baseline: the textbook integer-division GROUP BY on the same table.
        db = sqlite3.connect(str(folder / "week.sqlite"))
        try:
            (tag_id,) = db.execute("SELECT id FROM tags WHERE name = ?", (tag,)).fetchone()
            lo, hi = round(T0 * 1000), round((T0 + WEEK) * 1000)
            step = -(-(hi - lo) // WIDTH)
            base = []
            for _ in range(5):
                start = time.perf_counter()
                db.execute(
                    "SELECT (t - ?) / ? AS b, min(value), max(value), avg(value), count(value)"
                    " FROM samples WHERE tag_id = ? AND t >= ? AND t < ? GROUP BY b",
                    (lo, step, tag_id, lo, hi),
                ).fetchall()
                base.append((time.perf_counter() - start) * 1000)
        finally:
            db.close()
    return statistics.median(times), statistics.median(base), points


def bench_trend() -> dict[str, float]:
    """Frames per second of our Trend and of plain pyqtgraph, 1,000,000 points in view."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from hmi.core.tagstore import TagStore
    from hmi.qt.context import HmiContext
    from hmi.widgets.trend import Trend
    from hmi.widgets.trend_chart import GRID_ALPHA, PENS

    app = QApplication.instance() or QApplication([])
    n, name, span = TREND_POINTS, "plant/area1/level", TREND_POINTS * TREND_DT
    rng = np.random.default_rng(7)
    times = T0 + np.arange(n + 2 * TREND_FRAMES + 10) * TREND_DT
    values = 50 + 10 * np.sin(np.arange(len(times)) / 36_000) + rng.normal(0, 1, len(times))

    # Ours: the widget as screens use it, fed through the store and its repaint frame.
    store = TagStore()
    now = [float(times[n - 1])]
    context = HmiContext(store, clock=lambda: now[0])
    context.binder.stop()  # frames are driven below, one per measured frame
    trend = Trend()
    trend.capacity = n
    trend.tags = name
    trend.span = span
    trend.resize(800, 430)
    trend.show()
    trend.tag_link.attach(context)
    trend.buffer(name).extend(times[:n], values[:n])
    trend.redraw()
    app.processEvents()

    # Baseline: plain pyqtgraph, same look and data settings, the size of our plot area.
    plain = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
    plain.setBackground(trend.plot.backgroundBrush())
    item = plain.getPlotItem()
    item.setDownsampling(auto=True, mode="peak")
    item.setClipToView(True)
    item.showGrid(x=True, y=True, alpha=GRID_ALPHA)
    curve = plain.plot(pen=pg.mkPen(PENS[0], width=2), connect="finite")
    plain.resize(trend.plot.size())
    plain.show()
    app.processEvents()
    # Both are handed the same samples: index n, n + 1, ... one per live frame.
    ours_next, plain_next = [n], [n]

    def ours(live: bool) -> None:
        if live:
            i = ours_next[0]
            ours_next[0] += 1
            now[0] = float(times[i])
            store.apply({name: Sample(float(values[i]), GOOD, now[0], now[0])})
            context.binder.flush()
        trend.grab()

    def baseline(live: bool) -> None:
        if live:
            k = plain_next[0] = plain_next[0] + 1
            curve.setData(times[k - n : k], values[k - n : k])
            item.setXRange(times[k - 1] - span, times[k - 1], padding=0)
        plain.grab()

    result: dict[str, float] = {}
    for live in (True, False):
        frames: dict[str, list[float]] = {"ours": [], "plain": []}
        for frame in range(TREND_FRAMES + 5):
            for label, draw in (("ours", ours), ("plain", baseline)):
                start = time.perf_counter()
                draw(live)
                if frame >= 5:  # after warm-up
                    frames[label].append(time.perf_counter() - start)
        fps = {label: 1.0 / statistics.median(f) for label, f in frames.items()}
        if live:
            result["trend_fps"] = round(fps["ours"], 1)
            result["pyqtgraph_fps"] = round(fps["plain"], 1)
            result["trend_fps_ratio"] = round(fps["ours"] / fps["plain"], 3)
        else:
            result["trend_static_ratio"] = round(fps["ours"] / fps["plain"], 3)
    assert len(trend.buffer(name)) == n
    trend.close()
    plain.close()
    return result


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        baseline = bench_baseline_insert(folder)
        insert = bench_store(folder)
        ingest = bench_ingest(folder)
        decimate, groupby, points = bench_decimate(folder)
    trend = bench_trend()
    result = {
        "insert_samples_per_s": round(insert),
        "ingest_samples_per_s": round(ingest),
        "baseline_executemany_per_s": round(baseline),
        "insert_vs_baseline": round(insert / baseline, 3),
        "query_decimate_ms": round(decimate, 1),
        "baseline_groupby_ms": round(groupby, 1),
        "decimate_points": points,
        **trend,
        "trend_points": TREND_POINTS,
        "sqlite": sqlite3.sqlite_version,
        "python": sys.version.split()[0],
    }
    print(f"insert   {insert:12,.0f} samples/s  (plain executemany {baseline:,.0f}/s)")
    print(f"ingest   {ingest:12,.0f} samples/s  (recorder + insert, every sample kept)")
    print(
        f"decimate {decimate:12.1f} ms for 604,800 rows -> {points} points "
        f"(GROUP BY (t-lo)/step: {groupby:.1f} ms)"
    )
    print(
        f"trend    {trend['trend_fps']:12.1f} fps live, 1,000,000 points "
        f"(plain pyqtgraph {trend['pyqtgraph_fps']:.1f} fps: ratio {trend['trend_fps_ratio']})"
    )
    print(json.dumps(result))
    ok = insert >= 200_000 and decimate <= 150 and trend["trend_fps_ratio"] >= 0.7
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
