"""``hmi passwd project.yaml USER``: set a user's password (only its argon2id hash is stored).

A user whose stored hash is of the older scrypt scheme (or older argon2id parameters) can
still log in; setting the password again here replaces it with a current hash.
"""

from __future__ import annotations

import argparse
import getpass
import os
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
    """Check the file and the user, ask for the password twice (or read it from stdin),
    hash it, write it to the file."""
    from hmi.core.passwords import hash_password
    from hmi.project import ProjectError, load_project
    from hmi.project.edit import EditError, set_password_hash

    problem = _cannot_edit(args.project, args.user)
    if problem:
        print(f"{args.project}: {problem}", file=sys.stderr)
        return 1
    try:
        password = _ask(args.user, args.password_stdin)
    except (EOFError, KeyboardInterrupt) as exc:
        # Ctrl-D or Ctrl-C at the prompt, or input that ended early. After a prompt the
        # cursor is still on its line (getpass ends it only on Enter).
        interrupted = isinstance(exc, KeyboardInterrupt)
        why = "interrupted" if interrupted else "no password given"
        after_prompt = "" if args.password_stdin else "\n"
        print(f"{after_prompt}hmi passwd: {why}; nothing changed", file=sys.stderr)
        return 130 if interrupted else 1
    if password is None:
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


def _cannot_edit(path: Path, user: str) -> str:
    """Why the password of ``user`` cannot be set in ``path`` ("" when it can): checked
    before asking, by the same edit that will set it, on a throwaway copy of the text."""
    from hmi.project.edit import EditError, with_password_hash
    from hmi.project.source import SourceError, read_source

    try:
        with_password_hash(read_source(path), user, "", str(path))
    except SourceError as exc:
        return exc.error.message
    except EditError as exc:
        return str(exc)
    if not os.access(path, os.W_OK):
        return "cannot write: permission denied"
    return ""


def _ask(user: str, from_stdin: bool) -> str | None:
    """The new password, None when the two typed differ; EOFError when input ends first."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")
    password = getpass.getpass(f"New password for {user}: ")
    return password if password == getpass.getpass("Again: ") else None
