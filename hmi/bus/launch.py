"""Launch files (pyGecko's geckolaunch): start a set of nodes, keep them up, stop them all.

::

    # plant.yaml
    backoff: {initial: 0.5, max: 30}   # restart delays, doubling per crash
    nodes:
      - name: broker
        cmd: [hmi, broker, --quiet]
      - name: plant
        cmd: hmi sim examples/small-plant.yaml     # a string is split like a shell would
        env: {HMI_BROKER: "tcp://127.0.0.1:5570"}
        delay: 0.5                                  # wait before starting (after the previous)
      - name: report
        cmd: [python, tools/report.py]
        restart: false                               # run once

``hmi`` as the program means this Python's ``-m hmi``, so the same installation runs.
A node that exits while not stopping is restarted after its backoff (reset once it ran
for ``stable`` seconds); Ctrl-C stops every node, newest first (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)


class LaunchError(ValueError):
    """A launch file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One process of a launch file."""

    name: str
    argv: tuple[str, ...]
    restart: bool = True
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class LaunchFile:
    """The nodes to start, in order, and the restart policy."""

    nodes: tuple[NodeSpec, ...]
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    stable: float = 10.0


def _argv(cmd: Any, where: str) -> tuple[str, ...]:
    if isinstance(cmd, str):
        parts = shlex.split(cmd)
    elif isinstance(cmd, list) and all(isinstance(c, str | int | float) for c in cmd):
        parts = [str(c) for c in cmd]
    else:
        raise LaunchError(f"{where}.cmd must be a command line or a list of arguments")
    if not parts:
        raise LaunchError(f"{where}.cmd is empty")
    if parts[0] == "hmi":
        return (sys.executable, "-m", "hmi", *parts[1:])
    if parts[0] in ("python", "python3"):
        return (sys.executable, *parts[1:])
    return tuple(parts)


def load_launch(path: Path | str) -> LaunchFile:
    """Read and check a launch file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LaunchError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise LaunchError(f"{path}: expected a map with a 'nodes' list")
    nodes = []
    names = set()
    base = path.parent
    for i, item in enumerate(data["nodes"]):
        where = f"{path}: nodes[{i}]"
        if not isinstance(item, dict) or "cmd" not in item:
            raise LaunchError(f"{where} must be a map with 'cmd'")
        name = str(item.get("name", f"node{i}"))
        if name in names:
            raise LaunchError(f"{where}: duplicate name {name!r}")
        names.add(name)
        unknown = set(item) - {"name", "cmd", "restart", "env", "cwd", "delay"}
        if unknown:
            raise LaunchError(f"{where}: unknown field(s) {sorted(unknown)}")
        env = item.get("env", {}) or {}
        if not isinstance(env, dict):
            raise LaunchError(f"{where}.env must be a map")
        cwd = item.get("cwd")
        nodes.append(
            NodeSpec(
                name=name,
                argv=_argv(item["cmd"], where),
                restart=bool(item.get("restart", True)),
                env=tuple((str(k), str(v)) for k, v in env.items()),
                cwd=str(base / str(cwd)) if cwd else None,
                delay=float(item.get("delay", 0.0)),
            )
        )
    backoff = data.get("backoff", {}) or {}
    return LaunchFile(
        tuple(nodes),
        float(backoff.get("initial", 0.5)),
        float(backoff.get("max", 30.0)),
        float(backoff.get("stable", 10.0)),
    )


@dataclass
class NodeState:
    """What the launcher knows of one node (for the status display)."""

    spec: NodeSpec
    state: str = "waiting"
    pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None
    started: float = 0.0
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)


class Launcher:
    """Runs a :class:`LaunchFile` until :meth:`stop`."""

    def __init__(
        self, launch: LaunchFile, on_change: Callable[[NodeState], None] | None = None
    ) -> None:
        self.launch = launch
        self.nodes = {spec.name: NodeState(spec) for spec in launch.nodes}
        self.on_change = on_change
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _set(self, node: NodeState, state: str) -> None:
        node.state = state
        if self.on_change is not None:
            self.on_change(node)

    async def run(self) -> None:
        """Start the nodes in order and keep them up until :meth:`stop`; then stop them."""
        try:
            for node in self.nodes.values():
                if node.spec.delay and not self._stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), node.spec.delay)
                if self._stopping.is_set():
                    break
                self._tasks.append(asyncio.create_task(self._keep(node), name=node.spec.name))
            await self._stopping.wait()
        finally:
            await self._stop_all()

    def stop(self) -> None:
        """Ask :meth:`run` to stop every node and return."""
        self._stopping.set()

    async def _keep(self, node: NodeState) -> None:
        delay = self.launch.backoff_initial
        spec = self.nodes[node.spec.name].spec
        while not self._stopping.is_set():
            env = {**os.environ, **dict(spec.env)}
            try:
                proc = await asyncio.create_subprocess_exec(*spec.argv, env=env, cwd=spec.cwd)
            except OSError as exc:
                log.error("%s: cannot start %s: %s", spec.name, spec.argv[0], exc)
                self._set(node, "failed")
                return
            node.process, node.pid, node.started = proc, proc.pid, time.monotonic()
            self._set(node, "up")
            code = await proc.wait()
            node.last_exit = code
            if self._stopping.is_set():
                break
            if not spec.restart:
                self._set(node, "exited" if code == 0 else "failed")
                return
            if time.monotonic() - node.started >= self.launch.stable:
                delay = self.launch.backoff_initial  # it ran well for a while: forgive
            node.restarts += 1
            self._set(node, f"restart in {delay:.1f}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self.launch.backoff_max)

    async def _stop_all(self, grace: float = 5.0) -> None:
        self._stopping.set()
        for node in reversed(list(self.nodes.values())):
            proc = node.process
            if proc is not None and proc.returncode is None:
                self._set(node, "stopping")
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), grace)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
            if node.state not in ("failed", "exited"):
                self._set(node, "stopped")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def status(self) -> str:
        """A table of the nodes: name, state, pid, restarts, uptime."""
        now = time.monotonic()
        lines = [f"{'node':<20} {'state':<16} {'pid':>7} {'restarts':>8} {'up':>8}"]
        for node in self.nodes.values():
            up = f"{now - node.started:.0f}s" if node.state == "up" else "-"
            pid = str(node.pid) if node.pid and node.state == "up" else "-"
            lines.append(
                f"{node.spec.name:<20} {node.state:<16} {pid:>7} {node.restarts:>8} {up:>8}"
            )
        return "\n".join(lines)
