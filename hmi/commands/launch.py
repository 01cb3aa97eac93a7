"""``hmi launch plant.yaml``: start the nodes of a launch file, keep them up, Ctrl-C stops."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add ``launch`` to the sub-parsers."""
    cmd = commands.add_parser(
        "launch", help="start the nodes of a launch file; restart crashed ones; Ctrl-C stops"
    )
    cmd.add_argument("file", type=Path, help="launch YAML (see examples/launch-plant.yaml)")
    cmd.add_argument(
        "--status-interval",
        type=float,
        default=5.0,
        help="seconds between status tables (0: only changes)",
    )
    cmd.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the launch file until Ctrl-C or SIGTERM."""
    import asyncio
    import contextlib
    import signal

    from hmi.bus.launch import Launcher, LaunchError, NodeState, load_launch

    try:
        launch = load_launch(args.file)
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return 2

    def changed(node: NodeState) -> None:
        pid = f" pid {node.pid}" if node.state == "up" else ""
        code = f" (last exit {node.last_exit})" if node.last_exit is not None else ""
        print(f"[launch] {node.spec.name}: {node.state}{pid}{code}", flush=True)

    async def main() -> None:
        launcher = Launcher(launch, on_change=changed)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C raises instead
                loop.add_signal_handler(sig, launcher.stop)

        async def show() -> None:
            while args.status_interval > 0:
                await asyncio.sleep(args.status_interval)
                print(launcher.status(), flush=True)

        shower = asyncio.create_task(show())
        try:
            await launcher.run()
        finally:
            shower.cancel()
            await asyncio.gather(shower, return_exceptions=True)
        print(launcher.status(), flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0
