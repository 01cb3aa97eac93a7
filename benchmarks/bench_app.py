"""Application speed: start-up to the first painted frame, and the write round trip.

Prints progress to stderr and one JSON line last on stdout:

- ``startup_ms``: median of ``hmi demo`` from before its process is spawned to its first
  painted frame (target <= 400), beside ``baseline_qt_startup_ms``: a plain PySide6 window
  timed the same way in the same run, in rounds taken in turn with it.
- ``large_project_startup_ms``: the same for ``hmi run`` of a generated project of 9,900
  tags on 33 devices with 34 screens (target <= 1,000), split in the same process into
  ``large_project_load_ms``, up to the moment ``hmi.project.load_project`` returns (the
  interpreter, the command line and the loader), and ``large_project_gui_ms``, from there
  to the first paint (Qt, the store, the window and its first screen). The project was
  validated by an untimed run before, so it comes from the user's cache of validated
  projects (hmi.project.cache; ``HMI_CACHE_DIR`` is a folder of the bench's own), as it
  does at every start of a plant after its first.
- ``large_project_cold_startup_ms`` and ``large_project_cold_load_ms``: the same start with
  an empty cache (a new folder each time): the file composed and validated, then kept.
- ``write_roundtrip_ms_p99`` (and ``_p50``): from a write sent by the operator session
  (what a button press calls) to its confirmed result, read back from the simulated plant
  (target <= 2), beside ``baseline_raw_roundtrip_ms_p99`` (and ``_p50``): a raw pymodbus
  write plus read of the same register against the same simulator, on the same loop.
  ``write_cpu_ms_p50`` and ``baseline_raw_cpu_ms_p50``: the loop thread's CPU time per
  round trip (``time.thread_time``; the simulator answers on that thread too), so a
  figure stretched by the machine (preemption, a disk) can be told from our own work.

How the write round trip is taken: one process, a qasync loop on an offscreen Qt
application, the in-process bus, and the whole backend of the demo plant running on it
(the simulator, its plant stepped every 100 ms, security, the audit log in a temporary
folder, historian, alarm engine, and the driver polling plc1). The operator logs in, and
each write of area1/lic101/sp (its value changing every time) goes the way a button's
does: ``HmiContext.send`` -> ``cmd/`` -> the driver's session check (RPC to security), the
audit intent row committed (RPC to audit) -> the line writes and reads back -> the result
on ``result/`` (audited) -> the context's callback; the clock stops there. The tag is
moved to a 100 ms poll group and its ``settle`` is 0: this measures the path, not the
settle time a real write waits on purpose before it is confirmed (two poll periods by
default, docs/drivers.md). Ours and the raw client take turns in rounds of ``ROUND``
writes each (one untimed round of each first), ``WRITES`` timed writes each in all, so
both see the same machine; p99 is the nearest rank (the 297th of 300).

How start-up is timed: the parent reads ``time.monotonic()`` just before it spawns the
process and reads the child's output on a pipe until the line the child prints at its first
paint, which carries the child's own ``time.monotonic()`` of that moment. On Linux that clock
is CLOCK_MONOTONIC, one clock for every process of the machine; the bench checks so at
start (a child's reading must fall between two of the parent's) and otherwise times the
line's arrival. (psutil's ``create_time`` is not used: it has a 1 s resolution here, since
the boot time it adds is whole seconds.) A child whose line has no reading (an older
``hmi``) is timed by the line's arrival too.

The children run with a bytecode cache (``PYTHONPYCACHEPREFIX`` in a temporary folder,
filled by one untimed run of each command first), as an installed application has its
``.pyc`` files; ``--no-bytecode-cache`` runs them as the environment says instead (with
``PYTHONDONTWRITEBYTECODE`` set, every start compiles the ``hmi`` package again). The
children inherit the environment: ``PYTHONPATH=/some/checkout`` times that tree's ``hmi``
(a "before" figure) with this bench.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import MappingProxyType

RUNS = 3
#: timed write round trips, ours and raw each, taken in turns of ROUND
WRITES = 300
ROUND = 30
#: the first-paint line of the application (hmi.app.gui), with its monotonic reading
FIRST_PAINT = re.compile(r"first frame painted(?:.*?monotonic (\d+\.\d+))?")
PLAIN_QT = """
import time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel("plain Qt")
class F(QObject):
    def eventFilter(self, w, e):
        if e.type() == QEvent.Type.Paint:
            print(f"first frame painted (monotonic {time.monotonic():.6f})", flush=True)
            app.quit()
        return False
f = F(); label.installEventFilter(f); label.resize(1280, 800); label.show()
QTimer.singleShot(10000, app.quit)
app.exec()
"""
#: ``hmi`` with a line printed when ``load_project`` returns (the same loader, a marker
#: on its way out): the loader's share of ``hmi run`` is timed in the same process
MARK_LOADED = """
import runpy, sys, time
import hmi.project
load = hmi.project.load_project
def marked(*args, **kwargs):
    project = load(*args, **kwargs)
    print(f"project loaded (monotonic {time.monotonic():.6f})", flush=True)
    return project
hmi.project.load_project = marked
sys.argv = ["hmi", *sys.argv[1:]]
runpy.run_module("hmi", run_name="__main__")
"""
LOADED = re.compile(r"project loaded \(monotonic (\d+\.\d+)\)")


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def shared_monotonic() -> bool:
    """True when a child's ``time.monotonic()`` is on the parent's clock (Linux: it is)."""
    for _ in range(3):
        before = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-c", "import time; print(repr(time.monotonic()))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        after = time.monotonic()
        if not before <= float(out) <= after:
            return False
    return True


def time_lines(
    argv: Sequence[str],
    patterns: dict[str, re.Pattern[str]],
    env: dict[str, str],
    cwd: Path,
    *,
    shared_clock: bool,
    timeout: float = 120.0,
) -> dict[str, float]:
    """Milliseconds from just before spawning ``argv`` to its first line matching each
    of ``patterns`` (by key).

    The child's own monotonic reading in the line (group 1) is used when the clock is
    shared; else the time the line arrived. The child then runs to its end (its output
    still read, so it never blocks on a full pipe).
    """
    started = time.monotonic()
    child = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert child.stdout is not None
    found: dict[str, float] = {}
    tail: list[str] = []
    try:
        for line in child.stdout:
            arrived = time.monotonic()
            tail = [*tail[-40:], line]
            for key, pattern in patterns.items():
                match = pattern.search(line) if key not in found else None
                if match is not None:
                    stamp = match.group(1)
                    found[key] = float(stamp) if stamp and shared_clock else arrived
            if arrived - started > timeout:
                break
    finally:
        if child.poll() is None:
            try:
                child.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    missing = patterns.keys() - found.keys()
    if missing:
        raise RuntimeError(f"no line for {sorted(missing)} from {argv}:\n{''.join(tail)}")
    return {key: (stamp - started) * 1000 for key, stamp in found.items()}


@dataclasses.dataclass
class Starts:
    """How the start-up children are run: environment, folder and clock."""

    env: dict[str, str]
    cwd: Path
    shared_clock: bool

    def _time(self, argv: list[str], **patterns: re.Pattern[str]) -> dict[str, float]:
        return time_lines(argv, patterns, self.env, self.cwd, shared_clock=self.shared_clock)

    def demo(self) -> float:
        argv = [sys.executable, "-m", "hmi", "demo", "--duration", "0.3"]
        return self._time(argv, paint=FIRST_PAINT)["paint"]

    def plain_qt(self) -> float:
        return self._time([sys.executable, "-c", PLAIN_QT], paint=FIRST_PAINT)["paint"]

    def run(self, project: Path, cache: Path) -> tuple[float, float]:
        """``hmi run project`` with its cache of validated projects in ``cache``: (ms to
        the project loaded, ms to the first paint)."""
        argv = [sys.executable, "-c", MARK_LOADED, "run", str(project), "--duration", "0.3"]
        env = {**self.env, "HMI_CACHE_DIR": str(cache)}
        times = time_lines(
            argv,
            {"loaded": LOADED, "paint": FIRST_PAINT},
            env,
            self.cwd,
            shared_clock=self.shared_clock,
        )
        return times["loaded"], times["paint"]


def write_large_project(folder: Path, devices: int = 33, per_device: int = 300) -> Path:
    """A project of ``devices * per_device`` tags (9,900 by default) and its screens.

    Each device (a PLC nobody answers for, on a port of 127.0.0.1) has a third analog
    inputs (a quarter of them with alarms), a third discrete inputs, a sixth setpoints and
    a sixth commands; a screen per device shows its analog values, and the start screen
    one value per device. Built-in screens are off (they show the demo plant's tags).
    """
    analog, digital = per_device // 3, per_device // 3
    setpoints = (per_device - analog - digital) // 2
    commands = per_device - analog - digital - setpoints
    lines = [
        "name: Large plant",
        "description: generated by benchmarks/bench_app.py",
        "roles: [viewer, operator, engineer, admin]",
        "start_screen: overview",
        "builtin_screens: false",
        "poll_groups: {fast: 0.5, normal: 1.0, slow: 5.0}",
        "bus: {mode: local}",
        "historian: {path: data/large.sqlite, retention_days: 1}",
        "devices:",
    ]
    for d in range(devices):
        lines += [
            f"  - name: plc{d:02d}",
            "    protocol: modbus-tcp",
            "    host: 127.0.0.1",
            f"    port: {21000 + d}",
            "    timeout: 0.5",
            "    retries: 0",
        ]
    lines.append("tags:")
    for d in range(devices):
        area = f"area{d:02d}"
        for i in range(analog):
            lines += [
                f"  - name: {area}/ai{i:03d}/value",
                f"    description: Analog input {i} of {area}",
                "    type: float32",
                "    unit: m",
                f"    device: plc{d:02d}",
                f"    address: ir:{2 * i}",
                "    poll_group: fast" if i % 2 else "    poll_group: normal",
                "    format: .2f",
                "    limits: {low: 0, high: 100}",
            ]
            if i % 4 == 0:
                lines.append(
                    "    alarms: {lo: 10, hi: 90, deadband: 0.5, priority: 2, "
                    f"message: {area} input {i}}}"
                )
        for i in range(digital):
            lines += [
                f"  - name: {area}/di{i:03d}/state",
                f"    description: Discrete input {i} of {area}",
                "    type: bool",
                f"    device: plc{d:02d}",
                f"    address: di:{i}",
            ]
            if i % 10 == 0:
                lines.append(f"    alarms: {{state: true, priority: 3, message: {area} trip {i}}}")
        for i in range(setpoints):
            lines += [
                f"  - name: {area}/sp{i:03d}/value",
                "    type: float32",
                "    unit: m",
                f"    device: plc{d:02d}",
                f"    address: hr:{2 * i}",
                "    format: .1f",
                "    limits: {low: 0, high: 100}",
                "    write_roles: [operator, engineer]",
            ]
        for i in range(commands):
            lines += [
                f"  - name: {area}/cmd{i:03d}/on",
                "    type: bool",
                f"    device: plc{d:02d}",
                f"    address: co:{i}",
                "    write_roles: [operator]",
            ]
    screens = folder / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    overview = [f"area{d:02d}/ai000/value" for d in range(devices)]
    _write_screen(screens / "overview.ui", "overview", overview)
    lines += ["screens:", "  - {name: overview, file: screens/overview.ui, title: Overview}"]
    for d in range(devices):
        name = f"area{d:02d}"
        _write_screen(
            screens / f"{name}.ui", name, [f"{name}/ai{i:03d}/value" for i in range(analog)]
        )
        lines.append(f"  - {{name: {name}, file: screens/{name}.ui, title: Area {d}}}")
    path = folder / "large.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_screen(path: Path, name: str, tags: list[str]) -> None:
    items = []
    for i, tag in enumerate(tags):
        x, y = 10 + (i % 10) * 120, 10 + (i // 10) * 30
        items.append(
            f'<widget class="ValueLabel" name="v{i}"><property name="geometry"><rect><x>{x}</x>'
            f"<y>{y}</y><width>110</width><height>24</height></rect></property>"
            f'<property name="tag"><string>{tag}</string></property></widget>'
        )
    height = 20 + 30 * (len(tags) // 10 + 1)
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><ui version="4.0"><class>{name}</class>'
        f'<widget class="QWidget" name="{name}"><property name="geometry"><rect><x>0</x>'
        f"<y>0</y><width>1220</width><height>{height}</height></rect></property>"
        + "".join(items)
        + "</widget><customwidgets><customwidget><class>ValueLabel</class>"
        "<extends>QLabel</extends><header>hmi.widgets.value_label</header></customwidget>"
        "</customwidgets></ui>",
        encoding="utf-8",
    )


def child_environment(cache: Path | None) -> dict[str, str]:
    """The children's environment: offscreen Qt, and a bytecode cache in ``cache``."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    if cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def startup_figures(bytecode_cache: bool) -> dict[str, object]:
    """Every start-up figure, ours and the plain Qt window taken in turn, RUNS rounds."""
    shared = shared_monotonic()
    log(f"child monotonic clock shared with ours: {shared}")
    with tempfile.TemporaryDirectory(prefix="bench-app-") as scratch:
        folder = Path(scratch)
        starts = Starts(
            child_environment(folder / "pycache" if bytecode_cache else None), folder, shared
        )
        project = write_large_project(folder / "large")
        kept = folder / "project-cache"
        if bytecode_cache:  # one untimed run each: the caches an installed app has
            starts.demo(), starts.plain_qt()
        starts.run(project, kept)  # untimed: the project validated once, and kept
        demo: list[float] = []
        plain: list[float] = []
        large: list[float] = []
        load: list[float] = []
        cold: list[float] = []
        cold_load: list[float] = []
        for round_ in range(RUNS):
            demo.append(starts.demo())
            plain.append(starts.plain_qt())
            loaded, painted = starts.run(project, kept)
            load.append(loaded)
            large.append(painted)
            loaded, painted = starts.run(project, folder / f"empty-cache-{round_}")
            cold_load.append(loaded)
            cold.append(painted)
            log(
                f"round {round_ + 1}: demo {demo[-1]:.0f} ms, plain Qt {plain[-1]:.0f} ms, "
                f"large project {large[-1]:.0f} ms (loaded at {load[-1]:.0f} ms), "
                f"with an empty cache {cold[-1]:.0f} ms (loaded at {cold_load[-1]:.0f} ms)"
            )
    ours, base = statistics.median(demo), statistics.median(plain)
    gui = [painted - loaded for painted, loaded in zip(large, load, strict=True)]
    return {
        "startup_ms": round(ours),
        "baseline_qt_startup_ms": round(base),
        "startup_ratio": round(ours / base, 2),
        "startup_runs_ms": [round(v) for v in demo],
        "baseline_qt_runs_ms": [round(v) for v in plain],
        "large_project_startup_ms": round(statistics.median(large)),
        "large_project_load_ms": round(statistics.median(load)),
        "large_project_gui_ms": round(statistics.median(gui)),
        "large_project_runs_ms": [round(v) for v in large],
        "large_project_gui_runs_ms": [round(v) for v in gui],
        "large_project_cold_startup_ms": round(statistics.median(cold)),
        "large_project_cold_load_ms": round(statistics.median(cold_load)),
        "large_project_cold_runs_ms": [round(v) for v in cold],
        "large_project_tags": 9900,
        "bytecode_cache": bytecode_cache,
    }


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0.99: the 297th of 300 values)."""
    return sorted(values)[max(0, math.ceil(len(values) * q) - 1)]


def p99(values: list[float]) -> float:
    return percentile(values, 0.99)


@dataclasses.dataclass
class Trips:
    """Round trips in ms: wall time and the loop thread's CPU time, ours and raw."""

    ours: list[float] = dataclasses.field(default_factory=list)
    ours_cpu: list[float] = dataclasses.field(default_factory=list)
    raw: list[float] = dataclasses.field(default_factory=list)
    raw_cpu: list[float] = dataclasses.field(default_factory=list)

    def figures(self) -> dict[str, float]:
        ours, raw = p99(self.ours), p99(self.raw)
        return {
            "write_roundtrip_ms_p50": round(statistics.median(self.ours), 2),
            "write_roundtrip_ms_p99": round(ours, 2),
            "baseline_raw_roundtrip_ms_p50": round(statistics.median(self.raw), 2),
            "baseline_raw_roundtrip_ms_p99": round(raw, 2),
            "write_roundtrip_p99_ratio": round(ours / raw, 2),
            "write_cpu_ms_p50": round(statistics.median(self.ours_cpu), 2),
            "baseline_raw_cpu_ms_p50": round(statistics.median(self.raw_cpu), 2),
            "writes": len(self.ours),
        }


def write_roundtrips() -> Trips:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        trips: Trips = loop.run_until_complete(_roundtrips())
    return trips


async def _roundtrips() -> Trips:
    from pymodbus.client import AsyncModbusTcpClient

    from hmi.app import DEMO_PROJECT
    from hmi.app.plant import Backend
    from hmi.bus import Bus, bind_store
    from hmi.bus.wire.messages import decode_result, encode_command
    from hmi.core.command import CommandState
    from hmi.core.tagstore import TagStore
    from hmi.project import load_project
    from hmi.qt.context import HmiContext

    tag = "area1/lic101/sp"
    project = load_project(DEMO_PROJECT)
    source = project.tags[tag].source
    assert source is not None
    # settle 0: the round trip itself, not the settle time a write waits on purpose
    fast = dataclasses.replace(
        project.tags[tag], source=dataclasses.replace(source, poll_group="fast", settle=0.0)
    )
    project = dataclasses.replace(
        project,
        poll_groups=MappingProxyType({**project.poll_groups, "fast": 0.1}),
        tags=MappingProxyType({**project.tags, tag: fast}),
    )
    bus = Bus.local()
    trips = Trips()
    with tempfile.TemporaryDirectory() as data:
        backend = Backend(project, bus, Path(data), simulate=True)
        project = await backend.start()
        store = TagStore(project.tags.values())
        bind_store(bus, store, "tag/#")
        session = await bus.call("security", "login", "operator", "demo-operator")
        context = HmiContext(store, node="bench")
        context.sink = lambda c: bus.publish(
            f"cmd/{c.tag}", encode_command(dataclasses.replace(c, token=session["token"]))
        )
        bus.subscribe("result/#", lambda t, p: context.deliver(decode_result(p)))
        context.log_in("operator", frozenset(session["roles"]))
        device = project.devices["plc1"]
        client = AsyncModbusTcpClient(device.host, port=device.port, timeout=1, retries=0)
        await client.connect()

        async def ours(value: float) -> None:
            done = asyncio.get_running_loop().create_future()
            context.send(tag, value, on_result=done.set_result)
            result = await asyncio.wait_for(done, 5)
            if result.state is not CommandState.CONFIRMED:
                raise RuntimeError(f"write not confirmed: {result}")

        async def raw(value: float) -> None:
            words = list(struct.unpack(">HH", struct.pack(">f", value)))
            await client.write_registers(0, words, device_id=device.unit_id)
            await client.read_holding_registers(0, count=2, device_id=device.unit_id)

        async def timed(
            trip: Callable[[float], Awaitable[None]], n: int
        ) -> list[tuple[float, float]]:
            """``n`` trips: (wall ms, the loop thread's CPU ms) of each."""
            times = []
            for i in range(n):
                cpu, start = time.thread_time(), time.perf_counter()
                await trip(2.0 + (i % 10) * 0.1)
                wall = time.perf_counter() - start
                times.append((wall * 1000, (time.thread_time() - cpu) * 1000))
            return times

        await timed(ours, ROUND), await timed(raw, ROUND)  # untimed: warm up both
        for _ in range(WRITES // ROUND):
            for wall, cpu in await timed(ours, ROUND):
                trips.ours.append(wall)
                trips.ours_cpu.append(cpu)
            for wall, cpu in await timed(raw, ROUND):
                trips.raw.append(wall)
                trips.raw_cpu.append(cpu)
        client.close()
        await backend.stop()
        await bus.close()
    return trips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run the children as the environment says (maybe compiling hmi at every start)",
    )
    parser.add_argument("--startup-only", action="store_true", help="skip the write round trip")
    parser.add_argument("--writes-only", action="store_true", help="only the write round trip")
    args = parser.parse_args()
    result: dict[str, object] = {}
    if not args.writes_only:
        result.update(startup_figures(not args.no_bytecode_cache))
    if not args.startup_only:
        trips = write_roundtrips()
        result.update(trips.figures())
    result["targets"] = {
        "startup_ms": 400,
        "large_project_startup_ms": 1000,
        "write_roundtrip_ms_p99": 2,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
