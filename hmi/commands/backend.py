"""``hmi backend project.yaml``: security, audit, alarm engine and historian, headless."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hmi.commands import add_bus_options, add_duration, run_headless_node


def register(commands: Any) -> None:
    """Add ``backend`` to the sub-parsers."""
    cmd = commands.add_parser(
        "backend",
        help="run a plant's services without a GUI: security, audit, alarms, history",
        description="Serve logins and sessions, record the audit trail, evaluate alarms and "
        "store history for every operator station and driver node on the broker. One per "
        "plant. Joins the broker of the project's bus: section; waits for it as long as "
        "it takes.",
    )
    cmd.add_argument("project", type=Path, help="project YAML file")
    add_bus_options(cmd, name="backend", what="bus name and {name} of its key file")
    cmd.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="data folder: plant key, audit, alarm journal, history (default: beside the "
        "project, data/)",
    )
    cmd.add_argument(
        "--drivers",
        action="store_true",
        help="run the project's device drivers in this process too (else: hmi node)",
    )
    add_duration(cmd)
    cmd.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Join the broker and serve until interrupted."""
    from hmi.app.headless import NodeRole

    role = NodeRole("hmi backend", services=True, drivers=args.drivers)
    return run_headless_node(args, role, data=args.data)
