"""``hmi demo`` paints its window before it starts the plant, and says when, on a clock
another process can read (benchmarks/bench_app.py times the start from outside)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

FIRST_PAINT = re.compile(
    r"first frame painted (\d+) ms after process start, (\d+) ms after the application "
    r"started \(monotonic (\d+\.\d+)\)"
)


def test_the_window_is_painted_before_the_plant_is_imported(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    before = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "hmi", "demo", "--duration", "0.5"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=True,
    )
    after = time.monotonic()
    lines = done.stderr.splitlines()
    painted = next(i for i, line in enumerate(lines) if FIRST_PAINT.search(line))
    match = FIRST_PAINT.search(lines[painted])
    assert match is not None
    # The child's monotonic clock is ours (Linux: CLOCK_MONOTONIC is system-wide).
    if sys.platform.startswith("linux"):
        assert before < float(match.group(3)) < after
        assert 0 < int(match.group(1)) < (after - before) * 1000 + 20  # 10 ms ticks
    imported = [line.rsplit("|", 1)[-1].strip() for line in lines if "import time:" in line]
    before_paint = {
        line.rsplit("|", 1)[-1].strip() for line in lines[:painted] if "import time:" in line
    }
    # The plant's actors (drivers, pymodbus, the simulator) come after the first frame;
    # so do psutil (no longer read for the log line) and the bus's message codec.
    assert "hmi.app.plant" in imported and "hmi.app.plant" not in before_paint
    for late in ("pymodbus", "hmi.drivers", "hmi.sim", "psutil", "hmi.bus.wire.messages", "zmq"):
        assert late not in before_paint, late
    # Shown, and then the plant filled it: the simulator ran and the demo logged in.
    assert "simulated plant" in done.stderr
