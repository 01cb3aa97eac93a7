"""Application speed: start-up to the first painted frame, and the write round trip.

Prints one JSON line last:
- ``startup_ms``: median over runs of ``hmi demo`` from process start to its first painted
  frame (target <= 1,500), beside ``baseline_qt_startup_ms``: a plain PySide6 window's first
  paint measured the same way in the same run.
- ``write_roundtrip_ms_p99``: from a write sent by the operator session (what a button
  press calls) to the confirmed read-back from the simulated plant, the tag on a 100 ms poll
  group (target <= 150), beside ``baseline_raw_roundtrip_ms_p99``: a raw pymodbus write plus
  read of the same register against the same simulator. The tag's ``settle`` is 0 here:
  this measures the path, not the settle time a real write waits on purpose before it is
  confirmed (two poll periods by default, docs/drivers.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

RUNS = 3
WRITES = 60
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
PLAIN_QT = """
import time, psutil
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel("plain Qt")
class F(QObject):
    def eventFilter(self, w, e):
        if e.type() == QEvent.Type.Paint:
            print("painted", (time.time() - psutil.Process().create_time()) * 1000, flush=True)
            app.quit()
        return False
f = F(); label.installEventFilter(f); label.resize(1280, 800); label.show()
QTimer.singleShot(10000, app.quit)
app.exec()
"""


def startup_ms() -> float:
    out = subprocess.run(
        [sys.executable, "-m", "hmi", "demo", "--duration", "0.3"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        check=True,
    ).stderr
    match = re.search(r"first frame painted (\d+) ms", out)
    if match is None:
        raise RuntimeError(f"no first-paint line in:\n{out[-2000:]}")
    return float(match.group(1))


def baseline_startup_ms() -> float:
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_QT],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
        check=True,
    ).stdout
    return float(out.split()[-1])


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


def write_roundtrips() -> tuple[list[float], list[float]]:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        return loop.run_until_complete(_roundtrips())


async def _roundtrips() -> tuple[list[float], list[float]]:
    from pymodbus.client import AsyncModbusTcpClient

    from hmi.app import DEMO_PROJECT
    from hmi.app.plant import Backend
    from hmi.bus import Bus, bind_store
    from hmi.bus.messages import decode_result, encode_command
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
        ours: list[float] = []
        for i in range(WRITES):
            done = asyncio.get_running_loop().create_future()
            start = time.perf_counter()
            context.send(tag, 2.0 + (i % 10) * 0.1, on_result=done.set_result)
            result = await asyncio.wait_for(done, 5)
            if result.state is not CommandState.CONFIRMED:
                raise RuntimeError(f"write not confirmed: {result}")
            ours.append((time.perf_counter() - start) * 1000)
        device = project.devices["plc1"]
        client = AsyncModbusTcpClient(device.host, port=device.port, timeout=1, retries=0)
        await client.connect()
        raw: list[float] = []
        for i in range(WRITES):
            words = list(struct.unpack(">HH", struct.pack(">f", 2.0 + (i % 10) * 0.1)))
            start = time.perf_counter()
            await client.write_registers(0, words, device_id=device.unit_id)
            await client.read_holding_registers(0, count=2, device_id=device.unit_id)
            raw.append((time.perf_counter() - start) * 1000)
        client.close()
        await backend.stop()
        await bus.close()
    return ours, raw


def main() -> None:
    starts = [startup_ms() for _ in range(RUNS)]
    bases = [baseline_startup_ms() for _ in range(RUNS)]
    ours, raw = write_roundtrips()
    result = {
        "startup_ms": round(statistics.median(starts)),
        "baseline_qt_startup_ms": round(statistics.median(bases)),
        "startup_ratio": round(statistics.median(starts) / statistics.median(bases), 2),
        "write_roundtrip_ms_p50": round(statistics.median(ours), 1),
        "write_roundtrip_ms_p99": round(p99(ours), 1),
        "baseline_raw_roundtrip_ms_p99": round(p99(raw), 2),
        "targets": {"startup_ms": 1500, "write_roundtrip_ms_p99": 150},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
