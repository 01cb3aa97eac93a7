"""``hmi keys``: make and show CURVE key pairs for the broker and the nodes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add ``keys`` to the sub-parsers."""
    cmd = commands.add_parser("keys", help="make or show CURVE key pairs (bus security)")
    actions = cmd.add_subparsers(title="actions", metavar="ACTION")
    gen = actions.add_parser("generate", help="write NAME.key and NAME.key_secret")
    gen.add_argument("names", nargs="+", metavar="NAME", help="e.g. broker driver-1 hmi-1")
    gen.add_argument("--dir", type=Path, default=Path("keys"), help="default: ./keys")
    gen.add_argument(
        "--keep-existing",
        action="store_true",
        help="skip the names whose key pair exists (instead of failing): for set-up scripts",
    )
    gen.set_defaults(handler=generate)
    show = actions.add_parser("show", help="print the public key of a key file")
    show.add_argument("files", nargs="+", type=Path)
    show.set_defaults(handler=show_keys)
    cmd.set_defaults(handler=lambda args: cmd.print_help() or 2)


def generate(args: argparse.Namespace) -> int:
    """Write a key pair per name; refuse to overwrite an existing secret."""
    from hmi.bus.net.keys import KeyPair, create_keys

    for name in args.names:
        if (args.dir / f"{name}.key_secret").exists():
            if args.keep_existing:
                print(f"{name}: {KeyPair.load(args.dir / f'{name}.key').public}  (kept)")
                continue
            print(f"{args.dir / name}.key_secret exists: not overwritten", file=sys.stderr)
            return 1
        public, secret = create_keys(args.dir, name)
        print(f"{name}: {KeyPair.load(public).public}  ({public}, {secret})")
    return 0


def show_keys(args: argparse.Namespace) -> int:
    """Print ``file: public key`` lines."""
    from hmi.bus.net.keys import KeyPair

    for path in args.files:
        try:
            print(f"{path}: {KeyPair.load(path).public}")
        except (OSError, ValueError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return 1
    return 0
