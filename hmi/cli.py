"""The ``hmi`` command: one entry point, a sub-command per module of :mod:`hmi.commands`."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
from collections.abc import Callable, Sequence

import hmi.commands
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
    """The argument parser of ``hmi`` with every sub-command of :mod:`hmi.commands`."""
    parser = argparse.ArgumentParser(
        prog="hmi",
        description="Desktop HMI/SCADA: operator screens, a ZeroMQ bus, Modbus drivers "
        "and a simulated plant.",
    )
    parser.add_argument("--version", action="version", version=f"hmi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(hmi.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"hmi.commands.{info.name}")
        module.register(commands)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
