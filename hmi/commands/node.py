"""``hmi node project.yaml``: the project's device drivers, headless, joined to the broker."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hmi.commands import add_bus_options, add_duration, run_headless_node


def register(commands: Any) -> None:
    """Add ``node`` to the sub-parsers."""
    node = commands.add_parser(
        "node",
        help="run a project's device drivers without a GUI, joined to the broker",
        description="Poll the project's devices and carry out write commands whose session "
        "the backend's security service verifies (hmi backend). Joins the broker of the "
        "project's bus: section; waits for it as long as it takes.",
    )
    node.add_argument("project", type=Path, help="project YAML file")
    add_bus_options(node, name="drivers", what="bus name, RPC target, {name} of its key file")
    add_duration(node)
    node.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Join the broker and poll until interrupted."""
    from hmi.app.headless import NodeRole

    role = NodeRole("hmi node", services=False, drivers=True, driver_name=args.name)
    return run_headless_node(args, role)
