"""``hmi passwd project.yaml USER``: set a user's password (only its argon2id hash is stored).

A user whose stored hash is of the older scrypt scheme (or older argon2id parameters) can
still log in; setting the password again here replaces it with a current hash.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add ``passwd`` to the sub-parsers."""
    cmd = commands.add_parser("passwd", help="set a user's password in a project file")
    cmd.add_argument("project", type=Path, help="project YAML file")
    cmd.add_argument("user", help="user name (must exist in the users section)")
    cmd.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    cmd.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Ask for the password twice (or read it from stdin), hash it, write it to the file."""
    from hmi.core.passwords import hash_password
    from hmi.project import ProjectError, load_project
    from hmi.project.edit import EditError, set_password_hash

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"New password for {args.user}: ")
        if password != getpass.getpass("Again: "):
            print("passwords differ; nothing changed", file=sys.stderr)
            return 1
    if len(password) < 8:
        print("a password needs at least 8 characters; nothing changed", file=sys.stderr)
        return 1
    try:
        set_password_hash(args.project, args.user, hash_password(password, secrets.token_bytes(16)))
        load_project(args.project)  # the edited file must still be valid
    except (OSError, EditError) as exc:
        print(f"{args.project}: {exc}", file=sys.stderr)
        return 1
    except ProjectError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"password of {args.user!r} set in {args.project}")
    return 0
