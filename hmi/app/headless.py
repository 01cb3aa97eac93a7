"""Headless nodes on a plain asyncio loop: ``hmi node`` (drivers) and ``hmi backend``
(security, audit, alarm engine, historian; and drivers with ``--drivers``).

Both join the broker their deployment names, waiting for it as long as it takes (Ctrl-C
or SIGTERM ends the wait), start their actors, print one line saying what runs where, and
stop cleanly on SIGINT or SIGTERM (a systemd unit's stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hmi.app.connect import open_bus
from hmi.app.demo_accounts import demo_password, on_demo_passwords
from hmi.app.deployment import Deployment
from hmi.app.plant import Backend
from hmi.project import Project

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NodeRole:
    """What a headless node runs."""

    #: the command, for its lines (``hmi node``, ``hmi backend``)
    command: str
    services: bool
    drivers: bool
    #: the RPC target of the drivers (``hmi node --name``)
    driver_name: str = "drivers"


def run_headless(
    project: Project,
    deployment: Deployment,
    role: NodeRole,
    *,
    data_dir: Path | None = None,
    duration: float | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """Run the node until SIGINT/SIGTERM (or ``duration`` seconds); the exit code."""
    # pymodbus warns on every failed reconnect; the driver reports link errors in its
    # $sys/device/ status (and the alarm engine alarms them), so keep only its failures.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(
            _main(
                project,
                deployment,
                role,
                data_dir=data_dir or project.folder / "data",
                duration=duration,
                say=say,
            )
        )
    return 0


async def _main(
    project: Project,
    deployment: Deployment,
    role: NodeRole,
    *,
    data_dir: Path,
    duration: float | None,
    say: Callable[[str], None],
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows' proactor loop
            loop.add_signal_handler(sig, stop.set)
    return await _serve(
        project, deployment, role, data_dir=data_dir, stop=stop, duration=duration, say=say
    )


async def _serve(
    project: Project,
    deployment: Deployment,
    role: NodeRole,
    *,
    data_dir: Path,
    stop: asyncio.Event,
    duration: float | None,
    say: Callable[[str], None],
) -> int:
    say(f"{role.command} {deployment.name}: joining {deployment.describe()}")
    # Waiting for the broker takes as long as it takes; a stop ends the wait.
    # (--duration bounds the whole run, the wait included)
    started = asyncio.get_running_loop().time()
    joining = asyncio.ensure_future(open_bus(deployment))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([joining, stopped], timeout=duration, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not joining.done():
        joining.cancel()
        await asyncio.gather(joining, return_exceptions=True)
        if stop.is_set():
            say(f"{role.command} {deployment.name}: stopped before the broker answered")
            return 0
        say(f"{role.command} {deployment.name}: no broker answered in --duration {duration:g} s")
        return 1
    if duration is not None:
        duration = max(0.0, duration - (asyncio.get_running_loop().time() - started))
    bus = joining.result()
    backend = Backend(
        project,
        bus,
        data_dir,
        services=role.services,
        drivers=role.drivers,
        driver_name=role.driver_name,
    )
    try:
        try:
            await backend.start()
        except (OSError, ValueError, sqlite3.Error) as exc:
            # A data file it cannot use (a corrupt session state, a plant key too short,
            # a folder it may not write, an audit trail or alarm journal it cannot open:
            # without them nothing could be done fail-closed): one clear line.
            say(f"{role.command} {deployment.name}: cannot start: {exc}")
            return 1
        say(f"{role.command} {deployment.name}: {_summary(project, role, data_dir)}; ready")
        if role.services:
            for user in await asyncio.to_thread(on_demo_passwords, project):
                say(
                    f"{role.command} {deployment.name}: WARNING: user {user!r} still has the "
                    f"demo password anyone can read ({demo_password(user)}): set one with "
                    f"hmi passwd {project.path.name} {user}"
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    finally:
        await backend.stop()
        await bus.close()
    say(f"{role.command} {deployment.name}: stopped")
    return 0


def _summary(project: Project, role: NodeRole, data_dir: Path) -> str:
    parts = []
    if role.services:
        alarms = sum(1 for t in project.tags.values() if t.alarms is not None)
        history = ", historian" if project.historian.enabled else ""
        parts.append(f"security, audit, alarm engine ({alarms} tag alarms){history} in {data_dir}")
    if role.drivers:
        count = len(project.devices)
        names = ", ".join(project.devices) or "none"
        parts.append(f"drivers {role.driver_name!r}: {count} device{'s' * (count != 1)} ({names})")
    return "; ".join(parts)
