"""``hmi node project.yaml``: run the project's device drivers headless (plain asyncio)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hmi.commands import heartbeat_interval


def register(commands: Any) -> None:
    """Add ``node`` to the sub-parsers."""
    node = commands.add_parser("node", help="run a project's device drivers without a GUI")
    node.add_argument("project", type=Path, help="project YAML file")
    node.add_argument(
        "--broker",
        default=None,
        metavar="ADDRESS",
        help="broker to join, e.g. tcp://127.0.0.1:5570 (default: the project's, else discovery)",
    )
    node.add_argument(
        "--local", action="store_true", help="do not join a broker (in-process bus; for tests)"
    )
    node.add_argument("--name", default="drivers", help="actor name (RPC target), default drivers")
    node.add_argument(
        "--heartbeat",
        type=heartbeat_interval,
        default=1.0,
        metavar="SECONDS",
        help="seconds between heartbeats to the broker, which judges the node by them (default 1)",
    )
    node.add_argument(
        "--duration", type=float, default=None, metavar="SECONDS", help="stop after this long"
    )
    node.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load the project, join the broker and poll until interrupted."""
    from hmi.project import ProjectError, load_project

    try:
        project = load_project(args.project)
    except ProjectError as exc:
        print(exc, file=sys.stderr)
        return 1
    import asyncio
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # pymodbus warns on every failed reconnect; the driver reports link errors in its
    # $sys/device/ status instead, so keep only pymodbus' real failures.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    import contextlib

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(project, args))
    return 0


async def _main(project: Any, args: argparse.Namespace) -> None:
    import asyncio
    import contextlib
    import signal

    from hmi.bus import Bus, Supervisor
    from hmi.drivers.actor import DriverActor

    if args.local:
        bus = Bus.local(name=args.name)
    else:
        bus = await Bus.connect(
            args.broker or project.bus.broker or None, name=args.name, heartbeat=args.heartbeat
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows' proactor loop
            loop.add_signal_handler(sig, stop.set)
    try:
        async with Supervisor(bus) as supervisor:
            actor = await supervisor.start(DriverActor(project, name=args.name))
            assert actor.manager is not None
            count = len(actor.manager.devices)
            print(f"hmi node: {count} device{'s' * (count != 1)}, polling", flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.duration)
    finally:
        await bus.close()
