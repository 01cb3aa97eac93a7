"""``hmi launch plant.yaml``: start the nodes of a launch file, keep them up, Ctrl-C stops."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add ``launch`` to the sub-parsers."""
    cmd = commands.add_parser(
        "launch",
        help="start the nodes of a launch file; restart crashed ones; Ctrl-C stops",
        description="Start every node of a launch file in order, show each one's state and "
        "output (prefixed with its name), restart a node that exits (doubling delays), give "
        "up on one that keeps failing, and stop them all, newest first, on Ctrl-C or SIGTERM "
        "(a second Ctrl-C kills what is left). File format: hmi/launch/launchfile.py.",
        epilog="exit codes: 0 stopped; 1 a required node gave up, or every node ended by "
        "itself and one failed; 2 the launch file is wrong",
    )
    cmd.add_argument("file", type=Path, help="launch YAML (see examples/launch-plant.yaml)")
    cmd.add_argument(
        "--status-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between status tables (0: only state changes; default 5)",
    )
    cmd.add_argument(
        "--check", action="store_true", help="only validate the file and list its nodes"
    )
    cmd.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the launch file until Ctrl-C or SIGTERM; the exit code."""
    import asyncio

    from hmi.launch.launchfile import LaunchError, load_launch

    try:
        launch = load_launch(args.file)
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.check:
        for spec in launch.nodes:
            print(f"{spec.name}: {spec.shown}" + (" (required)" * spec.required))
        count = len(launch.nodes)
        print(f"{args.file}: OK: {count} node{'s' * (count != 1)}")
        return 0
    try:
        return asyncio.run(_main(launch, args.status_interval))
    except KeyboardInterrupt:  # no signal handlers (Windows): the nodes were stopped on the way
        return 0


async def _main(launch: Any, interval: float) -> int:
    import asyncio
    import contextlib
    import signal

    from hmi.launch.launcher import Launcher

    launcher = Launcher(launch)
    loop = asyncio.get_running_loop()
    # SIGHUP too: the nodes run in their own process groups, so a closed terminal reaches
    # only the launcher, which must not leave them running without it.
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            with contextlib.suppress(NotImplementedError):  # Windows' proactor loop
                loop.add_signal_handler(sig, launcher.stop, name)

    async def show() -> None:
        while True:
            await asyncio.sleep(interval)
            print(launcher.status(), flush=True)

    count = len(launch.nodes)
    print(f"[launch] {launch.file}: {count} node{'s' * (count != 1)}; Ctrl-C stops", flush=True)
    shower = asyncio.create_task(show()) if interval > 0 else None
    try:
        return await launcher.run()
    finally:
        if shower is not None:
            shower.cancel()
            await asyncio.gather(shower, return_exceptions=True)
        with contextlib.suppress(OSError):
            print(launcher.status(), flush=True)
