"""``hmi check project.yaml``: validate a project file and lint its screens."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add ``check`` to the sub-parsers."""
    check = commands.add_parser(
        "check",
        help="validate a project file and its screens",
        description="Load the project (every error as file:line: field: message), then read "
        "every screen it shows (its own and the built-in ones it keeps) and check their tags, "
        "macros and write widgets against it.",
    )
    check.add_argument("project", type=Path, help="project YAML file")
    check.set_defaults(handler=run)


def screen_specs(project: Any) -> list[Any]:
    """The screens ``project`` shows, as the screen checker reads them."""
    from hmi.project.screen_check import ScreenSpec
    from hmi.screens.catalog import DEMO_SCREENS

    specs: dict[str, ScreenSpec] = {}
    if project.builtin_screens:
        for entry in DEMO_SCREENS:
            specs[entry.name] = ScreenSpec(
                entry.name, entry.file, dict(entry.macros), builtin=True, faceplate=entry.faceplate
            )
    for screen in project.screens.values():
        specs[screen.name] = ScreenSpec(screen.name, screen.file, dict(screen.macros))
    return list(specs.values())


def run(args: argparse.Namespace) -> int:
    """Load the project and its screens; print OK (and notes) or every error.

    Exit status 1 for a file with errors; 2 if checking it failed in a way the checks do
    not foresee (a bug): still one line, not a traceback, since the file is the user's
    and the answer must say which one and that it was not checked.
    """
    try:
        return _check(args.project)
    except Exception as exc:
        what = " ".join(str(exc).split())[:200]
        print(
            f"{args.project}:1: (check): could not be checked: {type(exc).__name__}: {what} "
            "(a bug in hmi check: please report it with the file)",
            file=sys.stderr,
        )
        return 2


def _check(path: Path) -> int:
    from hmi.project import ProjectError, load_project
    from hmi.project.screen_check import ScreenCheckError, check_screens

    try:
        project = load_project(path)
    except ProjectError as exc:
        print(exc, file=sys.stderr)
        return 1
    report = check_screens(project, screen_specs(project))
    if report.errors:
        print(ScreenCheckError(report.errors), file=sys.stderr)
        return 1
    print(
        f"{path}: OK: project {project.name!r}: {len(project.devices)} devices, "
        f"{len(project.tags)} tags, {report.screens} screens "
        f"({len(project.screens)} of its own), {len(project.users)} users"
    )
    for note in report.notes:
        print(f"note: {note}")
    return 0
