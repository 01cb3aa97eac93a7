"""Launch files: nodes start, a crashing one restarts with backoff, stop ends them all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from hmi.bus.launch import Launcher, LaunchError, load_launch


def write(tmp_path, text):
    path = tmp_path / "plant.yaml"
    path.write_text(text)
    return path


def test_crashing_node_restarts_with_backoff_and_stop_ends_all(tmp_path):
    path = write(
        tmp_path,
        "backoff: {initial: 0.05, max: 0.2}\n"
        "nodes:\n"
        "  - {name: steady, cmd: [python, -c, 'import time; time.sleep(60)']}\n"
        "  - {name: crashy, cmd: [python, -c, 'raise SystemExit(3)']}\n"
        "  - {name: once, cmd: [python, -c, 'pass'], restart: false}\n",
    )
    launch = load_launch(path)
    assert launch.nodes[0].argv[0] == sys.executable

    async def main():
        events = []
        launcher = Launcher(launch, on_change=lambda n: events.append((n.spec.name, n.state)))
        runner = asyncio.create_task(launcher.run())
        deadline = time.monotonic() + 20
        while launcher.nodes["crashy"].restarts < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        steady = launcher.nodes["steady"]
        assert steady.state == "up"
        pid = steady.pid
        table = launcher.status()
        launcher.stop()
        await asyncio.wait_for(runner, 10)
        return launcher, events, pid, table

    launcher, events, pid, table = asyncio.run(main())
    assert launcher.nodes["crashy"].restarts >= 3
    assert launcher.nodes["crashy"].last_exit == 3
    assert ("crashy", "restart in 0.1s") in events  # doubled from 0.05
    assert launcher.nodes["once"].state == "exited"
    assert launcher.nodes["steady"].state == "stopped"
    assert "steady" in table and "up" in table
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nodes: 3\n", "'nodes' list"),
        ("nodes:\n  - {name: a}\n", "'cmd'"),
        ("nodes:\n  - {name: a, cmd: x}\n  - {name: a, cmd: y}\n", "duplicate"),
        ("nodes:\n  - {name: a, cmd: x, colour: red}\n", "unknown field"),
        ("nodes:\n  - {name: a, cmd: []}\n", "empty"),
    ],
)
def test_bad_launch_files_are_explained(tmp_path, text, message):
    with pytest.raises(LaunchError, match=message):
        load_launch(write(tmp_path, text))


def test_hmi_launch_stops_everything_on_ctrl_c(tmp_path):
    path = write(
        tmp_path,
        "nodes:\n  - {name: sleeper, cmd: [python, -c, 'import time; time.sleep(60)']}\n",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "hmi", "launch", str(path), "--status-interval", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "sleeper: up pid" in line
        child = int(line.split("pid")[1].split()[0])
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "sleeper: stopped" in out
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
