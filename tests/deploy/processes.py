"""Real ``hmi`` commands as processes, as a user starts them, and a station driven through
``hmi run --control stdio``.

Nothing here wires actors: every process is an ``hmi`` command, and the test sees only what
the commands print, what the stations answer and what crosses the bus.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-plant.yaml"
T = TypeVar("T")


class Command:
    """One ``python -m hmi ...`` process; its output (stdout and stderr) in ``log``."""

    def __init__(
        self,
        name: str,
        *args: str,
        env: dict[str, str],
        log: Path,
        cwd: Path | None = None,
        stdin: bool = False,
    ) -> None:
        self.name = name
        self.args = args
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hmi", *args],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )

    def text(self) -> str:
        """What the process printed so far."""
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 20.0) -> None:
        """Wait until the process printed ``needle`` (its output is a file: polled)."""
        until(lambda: needle in self.text() or self._dead(), timeout, f"{self.name}: {needle!r}")
        assert needle in self.text(), f"{self.name} exited:\n{self.text()[-3000:]}"

    def _dead(self) -> bool:
        return self.proc.poll() is not None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        """Signal the process and reap it (killed when it does not end in time)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return int(self.proc.returncode)


class Station(Command):
    """An operator station (``hmi run --control stdio``), asked and driven line by line:
    its answers come on stdout (a pipe), its log on stderr (the file)."""

    def __init__(
        self, name: str, *args: str, env: dict[str, str], log: Path, cwd: Path | None = None
    ) -> None:
        self.name, self.args, self.log = name, args, log
        self._out = log.open("ab")
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ids = iter(range(1, 1_000_000))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hmi", *args],
            stdout=subprocess.PIPE,
            stderr=self._out,
            stdin=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            text = line.decode(errors="replace")
            if text.startswith("@hmi "):
                self._answers.put(json.loads(text[5:]))

    def send_line(self, text: str) -> None:
        """One line to the station's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def ask(self, op: str, timeout: float = 20.0, **args: Any) -> Any:
        """One request; its result (AssertionError with the station's error otherwise)."""
        ident = next(self._ids)
        self.send_line(json.dumps({"id": ident, "op": op, **args}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"{self.name}: no answer to {op} within {timeout} s"
            try:
                answer = self._answers.get(timeout=left)
            except queue.Empty:
                continue
            if answer.get("id") == ident:
                assert answer["ok"], f"{self.name}: {op}: {answer.get('error')}"
                return answer["result"]


def start_station(
    name: str,
    project: Path,
    env: dict[str, str],
    log: Path,
    password: str,
    *extra: str,
    user: str = "operator",
) -> Station:
    """``hmi run PROJECT --name NAME --user USER --password-stdin --control stdio``."""
    station = Station(
        name,
        "run",
        str(project),
        "--name",
        name,
        "--user",
        user,
        "--password-stdin",
        "--control",
        "stdio",
        *extra,
        env=env,
        log=log,
    )
    station.send_line(password)
    return station


def until(check: Callable[[], T], timeout: float, what: str, every: float = 0.05) -> T:
    """Poll ``check`` until it is truthy (another process's state: no event to wait on)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(every)


def control_room_project(
    folder: Path, *, broker_port: int, plc_port: int, heartbeat: float = 0.3
) -> Path:
    """The demo plant as a distributed control room in ``folder``: broker mode, CURVE keys
    in ``folder/keys`` (with the example's policy), the PLC on ``plc_port``."""
    data = yaml.safe_load(DEMO.read_text())
    data["bus"] = {
        "mode": "broker",
        "broker": f"tcp://127.0.0.1:{broker_port}",
        "heartbeat_interval": heartbeat,
        "discovery": False,
        "curve": {
            "broker_key": "keys/broker.key",
            "node_key": "keys/{name}.key_secret",
            "clients": "keys/clients.yaml",
        },
    }
    data["devices"][0]["port"] = plc_port
    data["devices"][0]["timeout"] = 0.3
    data["historian"]["flush_interval"] = 0.2
    (folder / "keys").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "examples" / "keys" / "clients.yaml", folder / "keys" / "clients.yaml")
    project = folder / "plant.yaml"
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    return project


def plain_control_room_project(folder: Path) -> Path:
    """:func:`control_room_project` without CURVE, on free ports: the broker gives out
    direct routes, and no keys are needed."""
    from tests.ports import free_port, free_port_pair

    project = control_room_project(folder, broker_port=free_port_pair(), plc_port=free_port())
    data = yaml.safe_load(project.read_text())
    del data["bus"]["curve"]
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    return project


def generate_keys(folder: Path, *names: str, env: dict[str, str]) -> None:
    """``hmi keys generate NAMES --dir folder/keys``, as a user runs it; it must succeed."""
    keys = Command(
        "keys",
        "keys",
        "generate",
        *names,
        "--dir",
        str(folder / "keys"),
        env=env,
        log=folder / "keys.log",
    )
    code = keys.proc.wait(30)
    keys.stop()  # reaped: closes its log
    assert code == 0, keys.text()


@contextlib.contextmanager
def processes() -> Iterator[list[Command]]:
    """A list the test appends its processes to; every one is stopped at the end."""
    started: list[Command] = []
    try:
        yield started
    finally:
        for command in reversed(started):
            command.stop()


def environment(tmp: Path) -> dict[str, str]:
    """The environment of the commands: offscreen Qt, own state folder, no inherited bus."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMI_")}
    env.update(QT_QPA_PLATFORM="offscreen", HMI_STATE_DIR=str(tmp / "state"))
    return env
