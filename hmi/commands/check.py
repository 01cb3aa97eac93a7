"""``hmi check project.yaml``: validate a project file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add ``check`` to the sub-parsers."""
    check = commands.add_parser("check", help="validate a project file")
    check.add_argument("project", type=Path, help="project YAML file")
    check.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load the project and print OK or every error as file:line: field: message."""
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
