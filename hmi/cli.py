"""The ``hmi`` command: one entry point, a sub-command per job.

Heavy imports (Qt, zmq, pymodbus) happen inside each sub-command so ``hmi check`` and
``hmi --help`` start fast and work on machines without Qt libraries.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hmi import __version__

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hmi`` command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hmi`` with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="hmi",
        description="Desktop HMI/SCADA: operator screens, a ZeroMQ bus, Modbus drivers "
        "and a simulated plant.",
    )
    parser.add_argument("--version", action="version", version=f"hmi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    check = commands.add_parser("check", help="validate a project file")
    check.add_argument("project", type=Path, help="project YAML file")
    check.set_defaults(handler=_check)

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
        cmd.set_defaults(handler=_run)
    return parser


def _check(args: argparse.Namespace) -> int:
    from hmi.project import ProjectError, load_project

    try:
        project = load_project(args.project)
    except ProjectError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"{args.project}: OK: project {project.name!r}: {len(project.devices)} devices, "
        f"{len(project.tags)} tags, {len(project.screens)} screens, {len(project.users)} users"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
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


if __name__ == "__main__":
    raise SystemExit(main())
