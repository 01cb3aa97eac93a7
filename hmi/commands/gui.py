"""``hmi demo`` and ``hmi run project.yaml``: the operator application."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hmi.commands import heartbeat_interval


def register(commands: Any) -> None:
    """Add ``demo`` and ``run`` to the sub-parsers."""
    for name, help_text in (
        ("demo", "run the demo plant with its operator screens"),
        ("run", "open the operator application for a project"),
    ):
        cmd = commands.add_parser(name, help=help_text)
        if name == "run":
            cmd.add_argument("project", type=Path, help="project YAML file")
        cmd.add_argument(
            "--screenshot", type=Path, metavar="PNG", help="save a screenshot of the window, quit"
        )
        cmd.add_argument(
            "--duration",
            type=float,
            default=None,
            metavar="SECONDS",
            help="quit after this long (default with --screenshot: 2 s)",
        )
        cmd.add_argument("--broker", metavar="ADDRESS", help="join a plant through hmi broker")
        cmd.add_argument(
            "--heartbeat",
            type=heartbeat_interval,
            default=1.0,
            metavar="SECONDS",
            help="seconds between heartbeats to the broker (with --broker; default 1)",
        )
        cmd.add_argument("--user", help="log in as this user at start")
        cmd.add_argument(
            "--password-stdin", action="store_true", help="read --user's password from stdin"
        )
        cmd.add_argument(
            "--data", type=Path, metavar="DIR", help="data folder (default: beside the project)"
        )
        cmd.add_argument(
            "--no-alarm-flash",
            action="store_true",
            help="draw unacknowledged alarms steady (framed) instead of flashing at 1 Hz",
        )
        cmd.set_defaults(handler=run, demo=name == "demo")


def run(args: argparse.Namespace) -> int:
    """Load the project (if any) and run the application window."""
    from hmi.project import ProjectError, load_project

    project = None
    if getattr(args, "project", None) is not None:
        try:
            project = load_project(args.project)
        except ProjectError as exc:
            print(exc, file=sys.stderr)
            return 1
    from hmi.app import AppOptions, run_app

    duration = args.duration
    if args.screenshot is not None and duration is None:
        duration = 2.0
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    options = AppOptions(
        demo=args.demo,
        screenshot=args.screenshot,
        duration=duration,
        broker=args.broker,
        data_dir=args.data,
        user=args.user,
        password=password,
        alarm_flash=not args.no_alarm_flash,
        heartbeat=args.heartbeat,
    )
    return run_app(project, options)
