"""Peers we did not write, for the Sparkplug B tests: a Mosquitto broker of the test's own
(generated config, free port, stopped at the end), ``mosquitto_sub``, and the Node.js
Sparkplug programs of tests/peers/sparkplug (Eclipse Tahu's JavaScript client and codec).

Every wait is on an event the peer reports (a line it prints, a message that arrives),
bounded by a timeout; nothing sleeps.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ports import free_port  # (the Sparkplug tests import it from here)

ROOT = Path(__file__).resolve().parents[2]
NODE_PEERS = ROOT / "tests" / "peers" / "sparkplug"


class Mosquitto:
    """``mosquitto -c CONFIG`` on 127.0.0.1:``port``, anonymous, no persistence."""

    def __init__(self, folder: Path, port: int | None = None, settings: str = "") -> None:
        self.port = port or free_port()
        tls = "certfile" in settings
        self.url = f"{'mqtts' if tls else 'mqtt'}://127.0.0.1:{self.port}"
        self.log = folder / "mosquitto.log"
        config = folder / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            + (settings or "allow_anonymous true\n")
            + "persistence false\n"
            # run as root, mosquitto drops to the user mosquitto, which may not read this
            # test's private folder (its password file, its certificates)
            + f"user {getpass.getuser()}\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        )
        self._out = self.log.open("ab")
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(config)], stdout=self._out, stderr=subprocess.STDOUT
        )
        wait_until(
            lambda: " running" in self.log.read_text(errors="replace") or self._dead(),
            10.0,
            "mosquitto running",
        )
        assert not self._dead(), f"mosquitto exited:\n{self.log.read_text(errors='replace')}"

    def _dead(self) -> bool:
        return self.proc.poll() is not None

    def stop(self) -> None:
        """Terminate and reap it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def need(program: str) -> str:
    """The path of ``program``, or skip (sysdeps.sh installs it in `make test`)."""
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (sh packaging/sysdeps.sh test)")
    return path


@contextlib.contextmanager
def mosquitto(folder: Path, settings: str = "") -> Iterator[Mosquitto]:
    """A broker for the ``with`` block (``settings``: lines of its listener's config in
    place of ``allow_anonymous true``)."""
    need("mosquitto")
    broker = Mosquitto(folder, settings=settings)
    try:
        yield broker
    finally:
        broker.stop()


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` (another process's output file: no event to wait on) until truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.02)


class LineProcess:
    """A process that speaks JSON lines: on stdout (read by a thread into a queue) and on
    stdin (:meth:`send`)."""

    def __init__(self, args: list[str], cwd: Path, log: Path) -> None:
        self._err = log.open("ab")
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.lines.put(json.loads(raw))

    def send(self, **order: Any) -> None:
        """One JSON line to its stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(order).encode() + b"\n")
        self.proc.stdin.flush()

    def expect(self, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> Any:
        """The first line (seen before or coming) that ``check`` accepts."""
        for line in self.seen:
            if check(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such line within {timeout} s; seen {self.seen[-5:]}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if check(line):
                return line

    def stop(self) -> None:
        """End it (stdin closed, then terminate) and reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(10)  # at the pipe's end now
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._err.close()


def node_peer(script: str, *args: str, log: Path) -> LineProcess:
    """``node tests/peers/sparkplug/SCRIPT ARGS``; skips without Node.js or its packages."""
    node = need("node")
    if not (NODE_PEERS / "node_modules" / "sparkplug-client").is_dir():
        pytest.skip("npm packages missing: make peers (npm ci --prefix tests/peers/sparkplug)")
    return LineProcess([node, script, *args], NODE_PEERS, log)


def tahu_host(broker: Mosquitto, group: str, log: Path) -> LineProcess:
    """Tahu's JavaScript codec as a host application subscribed to ``group``; ready."""
    host = node_peer("host.js", broker.url, group, log=log)
    host.expect(lambda line: line.get("ready") is True)
    return host


def metrics_of(line: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A decoded payload's metrics by name (or alias)."""
    metrics = line["payload"].get("metrics") or []
    return {str(m.get("name") or m.get("alias")): m for m in metrics}
