"""``hmi demo`` and ``hmi run project.yaml``: the operator application."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import Any

from hmi.commands import add_bus_options, deployment, load


def register(commands: Any) -> None:
    """Add ``demo`` and ``run`` to the sub-parsers."""
    for name, help_text in (
        ("demo", "run the demo plant with its operator screens"),
        ("run", "open the operator application for a project"),
    ):
        cmd = commands.add_parser(
            name,
            help=help_text,
            description="With the project's bus.mode: local (the default) the whole plant "
            "runs in this process; with bus.mode: broker (or --broker) this is an operator "
            "station of a plant served by hmi broker, hmi backend and hmi node.",
        )
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
        if name == "run":
            add_bus_options(cmd, name="station", what="bus name and {name} of its key file")
            cmd.add_argument(
                "--local",
                action="store_true",
                help="run the whole plant in this process, whatever the project's bus.mode",
            )
        cmd.add_argument("--user", help="log in as this user at start")
        cmd.add_argument(
            "--password-stdin", action="store_true", help="read --user's password from stdin"
        )
        cmd.add_argument(
            "--data",
            type=Path,
            metavar="DIR",
            help="data folder in local mode (default: beside the project, data/)",
        )
        cmd.add_argument(
            "--control",
            choices=("stdio",),
            help="take JSON requests on stdin, answer on stdout (tests, automation; "
            "see hmi.app.remote)",
        )
        cmd.add_argument(
            "--no-alarm-flash",
            action="store_true",
            help="draw unacknowledged alarms steady (framed) instead of flashing at 1 Hz",
        )
        cmd.set_defaults(handler=run, demo=name == "demo")


def run(args: argparse.Namespace) -> int:
    """Load the project (if any) and run the application window."""
    project = None
    where = None
    if getattr(args, "project", None) is not None:
        project = load(args.project)
        if project is None:
            return 1
        # The project lives as long as the process: out of the garbage collector's way,
        # which otherwise walks its objects again at each collection (27 ms of collections
        # before the first frame of a 9,900-tag project, 8 ms with this, measured)
        gc.freeze()
        where = deployment(args, project, local=True if args.local else None)
        if where is None:
            return 2
    if args.password_stdin and not args.user:
        print("hmi: --password-stdin needs --user", file=sys.stderr)
        return 2
    from hmi.app.gui import AppOptions, run_app

    duration = args.duration
    if args.screenshot is not None and duration is None:
        duration = 2.0
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    options = AppOptions(
        demo=args.demo,
        screenshot=args.screenshot,
        duration=duration,
        deployment=where,
        data_dir=args.data,
        user=args.user,
        password=password,
        alarm_flash=not args.no_alarm_flash,
        control=args.control,
    )
    return run_app(project, options)
