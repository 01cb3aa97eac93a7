"""``hmi demo`` and ``hmi run project.yaml``: the operator application."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


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
        cmd.set_defaults(handler=run)


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
    from hmi.app import run_app

    duration = args.duration
    if args.screenshot is not None and duration is None:
        duration = 2.0
    return run_app(project, screenshot=args.screenshot, duration=duration)
