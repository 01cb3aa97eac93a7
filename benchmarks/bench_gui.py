"""GUI speed: bound ValueLabels fed through the TagStore vs plain QLabels set from a timer.

Prints progress to stderr and one JSON line last on stdout:
  cpu_ratio_10hz, cpu_ratio_50hz   whole-process CPU, ours / plain (targets: 10 Hz <= 1.0,
                                    issue 17; 50 Hz <= 1.3)
  feed_hz_50                        feeding timer rate really achieved (target >= 49)
  display_lag_ms_p99                sample into the store -> widget painted (target <= 50)
  loop_lag_p99_ms                   event-loop lag, 10,000 tags at 10 Hz, 1,000 widgets (<= 50)
  screen_open_ms                    open + bind + first paint of a 500-widget .ui (<= 300)
Baselines (plain QLabel) are measured in the same run. ``--duration`` shortens each phase.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QGridLayout, QLabel, QWidget

import hmi.widgets  # noqa: F401  (registers the widget classes)
from hmi.core import Sample, Tag, TagStore
from hmi.qt.context import HmiContext
from hmi.qt.screen import ScreenView
from hmi.widgets import ValueLabel

N_WIDGETS = 500


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def run_for(app: QApplication, seconds: float) -> None:
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()


def grid(widgets: list[QWidget], parent: QWidget) -> None:
    layout = QGridLayout(parent)
    layout.setSpacing(2)
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, i // 20, i % 20)


def measure(app: QApplication, seconds: float, tick_count: list[int]) -> tuple[float, float]:
    """(cpu seconds / wall seconds, ticks per second) while the app runs ``seconds``."""
    cpu0, wall0, ticks0 = time.process_time(), time.perf_counter(), tick_count[0]
    run_for(app, seconds)
    wall = time.perf_counter() - wall0
    return (time.process_time() - cpu0) / wall, (tick_count[0] - ticks0) / wall


def plain_labels(app: QApplication, hz: float, seconds: float) -> tuple[float, float]:
    window = QWidget()
    labels = [QLabel("0.00 m") for _ in range(N_WIDGETS)]
    grid(labels, window)  # type: ignore[arg-type]
    window.show()
    app.processEvents()
    ticks = [0]

    def feed() -> None:
        ticks[0] += 1
        base = ticks[0]
        for i, label in enumerate(labels):
            label.setText(f"{base + i * 0.001:.2f} m")

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(feed)
    timer.start(round(1000 / hz))
    cpu, rate = measure(app, seconds, ticks)
    timer.stop()
    window.close()
    window.deleteLater()
    app.processEvents()
    return cpu, rate


class PaintProbe(QObject):
    """Records when probe widgets paint, against when their sample entered the store."""

    def __init__(self) -> None:
        super().__init__()
        self.entered: dict[int, float] = {}
        self.lags: list[float] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            entered = self.entered.pop(id(watched), None)
            if entered is not None:
                self.lags.append((time.perf_counter() - entered) * 1000)
        return False


def bound_labels(app: QApplication, hz: float, seconds: float) -> tuple[float, float, list[float]]:
    names = [f"bench/v{i}/value" for i in range(N_WIDGETS)]
    store = TagStore([Tag(name, unit="m", format=".2f") for name in names])
    context = HmiContext(store)
    window = QWidget()
    labels = []
    for name in names:
        label = ValueLabel()
        label.tag = name
        labels.append(label)
    grid(labels, window)  # type: ignore[arg-type]
    for label in labels:
        label.tag_link.attach(context)
    window.show()
    context.binder.start()
    app.processEvents()
    probe = PaintProbe()
    probes = labels[::50]
    for label in probes:
        label.installEventFilter(probe)
    ticks = [0]

    def feed() -> None:
        ticks[0] += 1
        base = ticks[0]
        now = time.time()
        store.apply(
            {
                name: Sample(base + i * 0.001, source_time=now, receive_time=now)
                for i, name in enumerate(names)
            }
        )
        entered = time.perf_counter()
        for label in probes:
            probe.entered.setdefault(id(label), entered)

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(feed)
    timer.start(round(1000 / hz))
    cpu, rate = measure(app, seconds, ticks)
    timer.stop()
    context.binder.stop()
    window.close()
    window.deleteLater()
    app.processEvents()
    return cpu, rate, probe.lags


def write_screen_ui(path: Path, names: list[str]) -> None:
    items = []
    for i, name in enumerate(names):
        x, y = 10 + (i % 20) * 95, 10 + (i // 20) * 28
        items.append(
            f'<widget class="ValueLabel" name="v{i}"><property name="geometry"><rect><x>{x}</x>'
            f"<y>{y}</y><width>90</width><height>24</height></rect></property>"
            f'<property name="tag"><string>{name}</string></property></widget>'
        )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><ui version="4.0"><class>big</class>'
        '<widget class="QWidget" name="big"><property name="geometry"><rect><x>0</x><y>0</y>'
        f"<width>1920</width><height>{20 + 28 * (len(names) // 20 + 1)}</height></rect></property>"
        + "".join(items)
        + "</widget><customwidgets><customwidget><class>ValueLabel</class><extends>QLabel</extends>"
        "<header>hmi.widgets.value_label</header></customwidget></customwidgets></ui>"
    )


def screen_open(app: QApplication, folder: Path) -> float:
    names = [f"bench/s{i}/value" for i in range(N_WIDGETS)]
    store = TagStore([Tag(name, unit="m", format=".2f") for name in names])
    store.apply({name: Sample(1.0) for name in names})
    context = HmiContext(store)
    path = folder / "big.ui"
    write_screen_ui(path, names)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        view = ScreenView.open(path, context)
        view.resize(1920, 1000)
        view.show()
        context.binder.flush()
        app.processEvents()  # laid out and painted
        times.append((time.perf_counter() - started) * 1000)
        view.close()
        view.deleteLater()
        app.processEvents()
    return statistics.median(times)


def loop_lag(app: QApplication, seconds: float, folder: Path) -> float:
    all_names = [f"plant/t{i}/value" for i in range(10_000)]
    shown = all_names[::10]  # 1,000 widgets on the screen
    store = TagStore([Tag(name, unit="m", format=".2f") for name in all_names])
    context = HmiContext(store)
    path = folder / "thousand.ui"
    write_screen_ui(path, shown)
    view = ScreenView.open(path, context)
    view.resize(1920, 1100)
    view.show()
    context.binder.start()
    ticks = [0]

    def feed() -> None:
        ticks[0] += 1
        now = time.time()
        value = float(ticks[0])
        store.apply(
            {
                name: Sample(value + i * 0.001, source_time=now, receive_time=now)
                for i, name in enumerate(all_names)
            }
        )

    feeder = QTimer()
    feeder.setTimerType(Qt.TimerType.PreciseTimer)
    feeder.timeout.connect(feed)
    feeder.start(100)
    lags: list[float] = []
    period = 0.01
    last = [time.perf_counter()]

    def probe() -> None:
        now = time.perf_counter()
        lags.append(max(0.0, (now - last[0] - period) * 1000))
        last[0] = now

    prober = QTimer()
    prober.setTimerType(Qt.TimerType.PreciseTimer)
    prober.timeout.connect(probe)
    prober.start(int(period * 1000))
    run_for(app, seconds)
    prober.stop()
    feeder.stop()
    context.binder.stop()
    view.close()
    view.deleteLater()
    app.processEvents()
    return p99(lags[5:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per rate phase")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    result: dict[str, float] = {}
    lags: list[float] = []
    for hz in (10, 50):
        plain, plain_rate = plain_labels(app, hz, args.duration)
        ours, rate, phase_lags = bound_labels(app, hz, args.duration)
        log(
            f"{hz} Hz: plain QLabel cpu {plain:.3f} (feed {plain_rate:.1f} Hz), "
            f"bound ValueLabel cpu {ours:.3f} (feed {rate:.1f} Hz), "
            f"lag p99 {p99(phase_lags):.1f} ms"
        )
        result[f"cpu_ratio_{hz}hz"] = round(ours / plain, 3) if plain > 0 else float("nan")
        if hz == 50:
            result["feed_hz_50"] = round(rate, 2)
        lags.extend(phase_lags)
    result["display_lag_ms_p99"] = round(p99(lags), 2)
    with tempfile.TemporaryDirectory() as folder:
        result["loop_lag_p99_ms"] = round(
            loop_lag(app, max(3.0, args.duration / 2), Path(folder)), 2
        )
        result["screen_open_ms"] = round(screen_open(app, Path(folder)), 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
