"""The ``hmi`` command: one entry point, a sub-command per module of :mod:`hmi.commands`."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Callable, Sequence

import hmi.commands
from hmi import __version__

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hmi`` command; returns the process exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_of(arguments))
    args = parser.parse_args(arguments)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``hmi`` with every sub-command of :mod:`hmi.commands`, or
    only the one module that registers ``command`` when :data:`hmi.commands.MODULES`
    knows it."""
    parser = argparse.ArgumentParser(
        prog="hmi",
        description="Desktop HMI/SCADA: operator screens, a ZeroMQ bus, Modbus drivers "
        "and a simulated plant.",
    )
    parser.add_argument("--version", action="version", version=f"hmi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    only = hmi.commands.MODULES.get(command) if command is not None else None
    if only is not None:
        names = [only]
    else:
        names = sorted(info.name for info in pkgutil.iter_modules(hmi.commands.__path__))
    for name in names:
        importlib.import_module(f"hmi.commands.{name}").register(commands)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The sub-command word of ``argv``, or None when an option of ``hmi`` itself (help,
    version, one it does not know) comes first: then the whole parser answers."""
    for arg in argv:
        if arg in ("-v", "--verbose"):
            continue
        return None if arg.startswith("-") else arg
    return None


if __name__ == "__main__":
    raise SystemExit(main())
