"""Launching: state lines, prefixed output, restarts with backoff, giving up, stopping."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from hmi.launch.launcher import Launcher
from hmi.launch.launchfile import load_launch

SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"


def write(tmp_path, text, name="plant.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


class Console:
    """Collects what a launcher says and what its nodes print; waits for lines."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []  # (monotonic time, "[launch] ...")
        self.output: list[tuple[str, str, str]] = []  # (node, stdout | stderr, line)
        self._changed = asyncio.Event()

    def say(self, line: str) -> None:
        self.lines.append((time.monotonic(), line))
        self._changed.set()

    def echo(self, name: str, which: str, line: str) -> None:
        self.output.append((name, which, line))
        self._changed.set()

    def said(self, pattern: str) -> list[str]:
        return [line for _, line in self.lines if re.search(pattern, line)]

    async def until(self, check, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                self._changed.clear()
                await self._changed.wait()

    async def line(self, pattern: str, count: int = 1, timeout: float = 20.0) -> list[str]:
        await self.until(lambda: len(self.said(pattern)) >= count, timeout)
        return self.said(pattern)


def launcher_for(tmp_path, text):
    console = Console()
    launcher = Launcher(load_launch(write(tmp_path, text)), say=console.say, echo=console.echo)
    return launcher, console


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_usage_error_of_an_hmi_command_gives_up_at_once(tmp_path):
    launcher, console = launcher_for(
        tmp_path,
        "backoff: {initial: 0.05}\nnodes:\n  - {name: plant, cmd: hmi sim --no-such-option}\n",
    )
    code = asyncio.run(asyncio.wait_for(launcher.run(), 60))

    plant = launcher.nodes["plant"]
    assert plant.state == "failed" and plant.restarts == 0 and plant.last_exit == 2
    lines = [line for _, line in console.lines]
    assert lines[0] == "[launch] plant: starting: hmi sim --no-such-option"
    assert re.fullmatch(r"\[launch\] plant: up pid \d+", lines[1])
    assert re.fullmatch(r"\[launch\] plant: exited code 2 after [\d.]+ s", lines[2])
    assert re.fullmatch(
        r"\[launch\] plant: gave up after 1 failed start in [\d.]+ s \(last exit 2\); "
        r"fix it and restart hmi launch",
        lines[3],
    )
    assert not console.said("restart in")
    assert lines[4:] == ["[launch] every node has ended"]
    assert code == 1  # nothing left running, and a node failed
    # the child's own explanation is there too, marked as the plant's
    assert any(
        name == "plant" and which == "stderr" and "--no-such-option" in line
        for name, which, line in console.output
    )


def test_a_crashing_node_restarts_with_growing_delays_then_is_given_up(tmp_path):
    launcher, console = launcher_for(
        tmp_path,
        "backoff: {initial: 0.05, max: 0.15, stable: 10, give_up_after: 4}\n"
        "nodes:\n"
        f"  - {{name: steady, cmd: [python, -c, {SLEEPER!r}]}}\n"
        "  - {name: crashy, cmd: [python, -c, 'raise SystemExit(3)']}\n",
    )

    async def main():
        runner = asyncio.create_task(launcher.run())
        await console.line(r"crashy: gave up")
        table = launcher.status()
        steady = launcher.nodes["steady"].state
        launcher.stop()
        return await asyncio.wait_for(runner, 20), table, steady

    code, table, steady = asyncio.run(main())
    assert code == 0  # crashy is not required: the launch went on until stopped
    assert steady == "up"
    restarts = console.said(r"crashy: restart in")
    assert restarts == [
        "[launch] crashy: restart in 0.05 s (attempt 2 of 4)",
        "[launch] crashy: restart in 0.1 s (attempt 3 of 4)",
        "[launch] crashy: restart in 0.15 s (attempt 4 of 4)",  # doubling stops at max
    ]
    (gave_up,) = console.said(r"crashy: gave up")
    assert re.fullmatch(
        r"\[launch\] crashy: gave up after 4 failed starts in [\d.]+ s \(last exit 3\); "
        r"fix it and restart hmi launch",
        gave_up,
    )
    # each restart waited its delay before starting again
    times = [(t, line) for t, line in console.lines if line.startswith("[launch] crashy:")]
    for (t0, line), (t1, after) in itertools.pairwise(times):
        if "restart in" in line:
            assert after == "[launch] crashy: starting"
            assert t1 - t0 >= float(line.split("restart in ")[1].split()[0]) * 0.9
    crashy = launcher.nodes["crashy"]
    assert crashy.state == "failed" and crashy.restarts == 3 and crashy.last_exit == 3
    assert len(console.said(r"crashy: starting")) == 4
    assert "crashy" in table and "failed" in table and "steady" in table
    assert launcher.nodes["steady"].state == "stopped"


def test_a_stable_run_is_forgiven(tmp_path):
    # Runs 1 and 2 fail at once, run 3 stays up longer than `stable` then fails, run 4 stays.
    counter = tmp_path / "runs"
    script = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1))\n"
        "if n == 2: time.sleep(2.5)\n"
        "if n >= 3: time.sleep(60)\n"
        "sys.exit(1)\n"
    )
    launcher, console = launcher_for(
        tmp_path,
        "backoff: {initial: 0.05, max: 1, stable: 2, give_up_after: 3}\n"
        f"nodes:\n  - name: flaky\n    cmd: [python, -c, {script!r}]\n",
    )

    async def main():
        runner = asyncio.create_task(launcher.run())
        await console.line(r"flaky: up pid", count=4)
        launcher.stop()
        return await asyncio.wait_for(runner, 20)

    assert asyncio.run(main()) == 0
    assert console.said(r"flaky: restart in") == [
        "[launch] flaky: restart in 0.05 s (attempt 2 of 3)",
        "[launch] flaky: restart in 0.1 s (attempt 3 of 3)",
        "[launch] flaky: restart in 0.05 s (attempt 1 of 3)",  # forgiven: count and delay reset
    ]
    assert not console.said("gave up")
    assert launcher.nodes["flaky"].restarts == 3


def test_output_is_prefixed_drained_and_the_exit_code_kept(tmp_path):
    # 20000 lines (about 1 MB, far more than a pipe holds) before exiting 7; and a last
    # line without its newline. A launcher that did not drain would never see the exit.
    script = (
        "import sys\n"
        "for i in range(20000): print(f'line {i}')\n"
        "print('on stderr', file=sys.stderr)\n"
        "sys.stdout.write('no newline')\n"
        "sys.exit(7)\n"
    )
    launcher, console = launcher_for(
        tmp_path,
        f"nodes:\n  - name: chatty\n    cmd: [python, -c, {script!r}]\n    restart: false\n",
    )
    code = asyncio.run(asyncio.wait_for(launcher.run(), 60))

    out = [line for name, which, line in console.output if which == "stdout"]
    assert out == [f"line {i}" for i in range(20000)] + ["no newline"]
    assert ("chatty", "stderr", "on stderr") in console.output
    assert {name for name, _, _ in console.output} == {"chatty"}
    chatty = launcher.nodes["chatty"]
    assert chatty.last_exit == 7 and chatty.state == "failed"
    assert console.said(r"chatty: exited code 7 after")
    assert console.said(r"chatty: failed \(last exit 7, restart: false\); fix it and restart")
    assert code == 1


def test_default_output_is_name_bar_line_aligned(tmp_path, capfd):
    path = write(
        tmp_path,
        "nodes:\n"
        "  - {name: a, cmd: [python, -c, 'print(1)'], restart: false}\n"
        "  - name: long-name\n"
        "    cmd: [python, -c, 'import sys; print(2, file=sys.stderr)']\n"
        "    restart: false\n",
    )
    assert asyncio.run(asyncio.wait_for(Launcher(load_launch(path)).run(), 60)) == 0
    out, err = capfd.readouterr()
    assert "a         | 1\n" in out
    assert "long-name | 2\n" in err
    assert "[launch] a: done\n" in out


def test_an_exit_is_seen_while_a_grandchild_keeps_the_pipes_open(tmp_path):
    launcher, console = launcher_for(
        tmp_path,
        "nodes:\n  - {name: shell, cmd: [sh, -c, 'sleep 30 & exit 3'], restart: false}\n",
    )
    started = time.monotonic()
    try:
        assert asyncio.run(asyncio.wait_for(launcher.run(), 20)) == 1
        assert time.monotonic() - started < 10
        assert launcher.nodes["shell"].last_exit == 3
    finally:
        for up in console.said(r"shell: up pid"):  # the orphaned sleep: ours to end
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(up.split()[-1]), signal.SIGKILL)


def test_a_required_node_that_gives_up_stops_the_launch(tmp_path):
    launcher, console = launcher_for(
        tmp_path,
        "backoff: {initial: 0.05, give_up_after: 2}\n"
        "nodes:\n"
        f"  - {{name: steady, cmd: [python, -c, {SLEEPER!r}]}}\n"
        "  - {name: broker, cmd: [python, -c, 'raise SystemExit(5)'], required: true}\n",
    )
    code = asyncio.run(asyncio.wait_for(launcher.run(), 60))
    assert code == 1
    assert console.said(r"broker: gave up after 2 failed starts")
    assert console.said(r"^\[launch\] broker is required: stopping every node$")
    assert launcher.nodes["steady"].state == "stopped"


def test_stop_goes_newest_first_and_kills_what_ignores_its_signal(tmp_path):
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    launcher, console = launcher_for(
        tmp_path,
        "nodes:\n"
        f"  - {{name: first, cmd: [python, -c, {SLEEPER!r}]}}\n"
        f"  - {{name: second, cmd: [python, -c, {SLEEPER!r}], stop_signal: SIGINT}}\n"
        f"  - {{name: third, cmd: [python, -c, {stubborn!r}], stop_timeout: 0.3}}\n",
    )

    async def main():
        runner = asyncio.create_task(launcher.run())
        await console.until(lambda: len(console.output) == 3)  # every node is ready
        pids = [node.pid for node in launcher.nodes.values()]
        launcher.stop("SIGINT")
        return await asyncio.wait_for(runner, 20), pids

    code, pids = asyncio.run(main())
    assert code == 0
    stopping = console.said(r": stopping")
    assert stopping == [
        "[launch] SIGINT: stopping every node, newest first",
        "[launch] third: stopping (SIGTERM, SIGKILL after 0.3 s)",
        "[launch] second: stopping (SIGINT, SIGKILL after 5 s)",
        "[launch] first: stopping (SIGTERM, SIGKILL after 5 s)",
    ]
    assert console.said(r"^\[launch\] third: still up after 0.3 s: SIGKILL$")
    assert console.said(r"third: stopped in [\d.]+ s \(killed by signal SIGKILL\)")
    assert console.said(r"first: stopped in [\d.]+ s \(killed by signal SIGTERM\)")
    assert all(node.state == "stopped" for node in launcher.nodes.values())
    assert all(gone(pid) for pid in pids)
    table = launcher.status().splitlines()
    assert table[0].split() == [
        "[launch]",
        "node",
        "state",
        "pid",
        "restarts",
        "uptime",
        "last",
        "exit",
    ]
    assert table[3].split() == ["[launch]", "third", "stopped", "-", "0", "-", "SIGKILL"]


def test_a_second_stop_kills_at_once(tmp_path):
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    launcher, console = launcher_for(
        tmp_path, f"nodes:\n  - {{name: stubborn, cmd: [python, -c, {stubborn!r}]}}\n"
    )

    async def main():
        runner = asyncio.create_task(launcher.run())
        await console.until(lambda: console.output)
        launcher.stop("SIGINT")
        await console.line(r"stubborn: stopping")
        launcher.stop("SIGINT")
        return await asyncio.wait_for(runner, 3)  # well before its 5 s stop_timeout

    assert asyncio.run(main()) == 0
    assert console.said(r"^\[launch\] SIGINT again: killing what is left$")
    assert console.said(r"^\[launch\] stubborn: killing: SIGKILL$")


@pytest.mark.slow
def test_hmi_commands_stop_cleanly_on_their_stop_signal(tmp_path):
    # The reason hmi commands get SIGINT: the simulator and the broker end cleanly on it
    # (exit 0), where SIGTERM's default would kill the simulator on the spot.
    launcher, console = launcher_for(
        tmp_path,
        "nodes:\n"
        f"  - name: broker\n    cmd: hmi broker --quiet --no-beacon --address "
        f"ipc://{tmp_path}/bus\n    env: {{HMI_STATE_DIR: '{tmp_path}'}}\n"
        "  - {name: plant, cmd: hmi sim --port 0}\n",
    )

    async def main():
        runner = asyncio.create_task(launcher.run())
        await console.until(
            lambda: {name for name, _, _ in console.output} == {"broker", "plant"}, 60
        )
        launcher.stop()
        return await asyncio.wait_for(runner, 30)

    assert asyncio.run(main()) == 0
    assert console.said(r"plant: stopping \(SIGINT, SIGKILL after 5 s\)")
    assert console.said(r"plant: stopped in [\d.]+ s \(exited code 0\)")
    assert console.said(r"broker: stopped in [\d.]+ s \(exited code 0\)")


class Lines:
    """The stdout of a process, line by line, each wait bounded."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._taken: set[int] = set()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def expect(self, pattern: str, timeout: float = 30.0) -> str:
        """The first line matching ``pattern`` not taken by an earlier expect, whenever it
        came: two children's lines arrive in either order."""
        deadline = time.monotonic() + timeout
        taken = self._taken
        index = 0
        while True:
            while index < len(self.seen):
                if index not in taken and re.search(pattern, self.seen[index]):
                    taken.add(index)
                    return self.seen[index]
                index += 1
            self.seen.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))


def test_hmi_launch_stops_everything_on_ctrl_c(tmp_path):
    path = write(
        tmp_path,
        "nodes:\n"
        f"  - {{name: one, cmd: [python, -c, {SLEEPER!r}]}}\n"
        f"  - {{name: two, cmd: [python, -c, {SLEEPER!r}]}}\n",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "hmi", "launch", str(path), "--status-interval", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = Lines(proc.stdout)
        pids = [int(lines.expect(rf"^\[launch\] {n}: up pid").split()[-1]) for n in ("one", "two")]
        lines.expect(r"^one \| ready$")
        lines.expect(r"^two \| ready$")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        lines.expect(r"^\[launch\] one: stopped in")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "[launch] SIGINT: stopping every node, newest first" in lines.seen
    assert lines.seen.index("[launch] SIGINT: stopping every node, newest first") < min(
        i for i, line in enumerate(lines.seen) if "two: stopped" in line
    )
    assert all(gone(pid) for pid in pids)


def test_a_set_up_step_runs_to_its_end_before_the_next_node(tmp_path):
    marker = tmp_path / "made"
    launcher, console = launcher_for(
        tmp_path,
        "nodes:\n"
        "  - name: setup\n"
        f'    cmd: [python, -c, \'import pathlib; pathlib.Path(r"{marker}").write_text("x")\']\n'
        "    wait: true\n"
        "  - name: user\n"
        f"    cmd: [python, -c, 'import pathlib; assert pathlib.Path(r\"{marker}\").exists()']\n"
        "    restart: false\n",
    )
    code = asyncio.run(asyncio.wait_for(launcher.run(), 60))
    assert code == 0
    assert console.said(r"setup: done") and console.said(r"user: done")


def test_a_failed_set_up_step_stops_the_launch(tmp_path):
    launcher, console = launcher_for(
        tmp_path,
        "nodes:\n"
        "  - {name: setup, cmd: [python, -c, 'raise SystemExit(3)'], wait: true}\n"
        f'  - {{name: never, cmd: [python, -c, "{SLEEPER}"]}}\n',
    )
    code = asyncio.run(asyncio.wait_for(launcher.run(), 60))
    assert code == 1
    assert console.said(r"setup: failed \(last exit 3")
    assert not console.said(r"never: starting")
