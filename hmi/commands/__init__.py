"""Sub-commands of ``hmi``: one module each, discovered at start-up.

A module here defines ``register(commands)``, which adds its parser to the
``argparse`` sub-parsers and sets ``handler=callable(args) -> int``. Modules import their
heavy dependencies (Qt, zmq, pymodbus) inside the handler so ``hmi --help`` stays fast.
The shared parts of the node commands (the project, the bus options) are here.

``hmi COMMAND`` imports only the module of :data:`MODULES` that registers ``COMMAND``
(whatever the others import at their top costs it nothing); help, and a command missing
from the table, import them all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hmi.app.deployment import Deployment
    from hmi.app.headless import NodeRole
    from hmi.project import Project

#: each sub-command and the module here that registers it (tests/test_cli_modules.py
#: checks the table against what the modules register)
MODULES: Mapping[str, str] = {
    "backend": "backend",
    "broker": "broker",
    "check": "check",
    "demo": "gui",
    "designer": "designer",
    "keys": "keys",
    "launch": "launch",
    "node": "node",
    "opcua": "opcua",
    "passwd": "passwd",
    "run": "gui",
    "sim": "sim",
}


def heartbeat_interval(text: str) -> float:
    """``--heartbeat`` of the node commands: seconds, more than 0 (and below a day)."""
    value = float(text)
    if not 0 < value < 86_400:
        raise argparse.ArgumentTypeError(f"{text}: seconds, more than 0")
    return value


def add_bus_options(cmd: Any, *, name: str, what: str) -> None:
    """The options by which a node joins its plant's bus (over the project's ``bus:``)."""
    group = cmd.add_argument_group(
        "bus", "override the project's bus: section (flags over $HMI_* over the file)"
    )
    group.add_argument(
        "--name", default=name, help=f"this node's name: {what} (default: %(default)s)"
    )
    group.add_argument(
        "--broker",
        metavar="ADDRESS",
        help="broker to join, e.g. tcp://127.0.0.1:5570 (default: $HMI_BROKER, then bus.broker)",
    )
    group.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="this node's CURVE key pair NAME.key_secret (default: $HMI_KEY, then "
        "bus.curve.node_key)",
    )
    group.add_argument(
        "--broker-key",
        type=Path,
        metavar="FILE",
        help="the broker's public key NAME.key (default: $HMI_BROKER_KEY, then "
        "bus.curve.broker_key)",
    )
    group.add_argument(
        "--heartbeat",
        type=heartbeat_interval,
        default=None,
        metavar="SECONDS",
        help="seconds between heartbeats to the broker (default: bus.heartbeat_interval, 1)",
    )


def load(path: Path) -> Project | None:
    """The project at ``path``, or None after printing every error (file:line: field).

    A project validated before is rebuilt from the user's cache (:mod:`hmi.project.cache`:
    same text, same code); ``hmi check`` always reads the file."""
    from hmi.project import ProjectError, load_project

    try:
        return load_project(path, cache=True)
    except ProjectError as exc:
        print(exc, file=sys.stderr)
        return None


def deployment(
    args: argparse.Namespace, project: Project | None, *, local: bool | None = None
) -> Deployment | None:
    """The deployment the options and the project describe, or None after printing why not."""
    from hmi.app.deployment import DeploymentError, resolve

    try:
        return resolve(
            project,
            name=args.name,
            broker=args.broker,
            local=local,
            key=args.key,
            broker_key=args.broker_key,
            heartbeat=args.heartbeat,
        )
    except DeploymentError as exc:
        print(f"hmi: {exc}", file=sys.stderr)
        return None


def add_duration(cmd: Any) -> None:
    """``--duration``: stop after this long (tests, demonstrations)."""
    cmd.add_argument(
        "--duration", type=float, default=None, metavar="SECONDS", help="stop after this long"
    )


def run_headless_node(args: argparse.Namespace, role: NodeRole, data: Path | None = None) -> int:
    """Load the project, resolve the deployment and run a headless node until stopped."""
    project = load(args.project)
    if project is None:
        return 1
    where = deployment(args, project, local=False)
    if where is None:
        return 2
    from hmi.app.headless import run_headless

    return run_headless(project, where, role, data_dir=data, duration=args.duration)
