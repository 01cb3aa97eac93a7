"""Accounts still on the demo plant's published passwords (``demo-`` and the user's name,
in the README): anyone who has read it can log in as them. A backend that serves a
networked plant says so at start (docs/deployment.md, step 4, sets them all)."""

from __future__ import annotations

from hmi.core.passwords import PasswordHashError, verify_password
from hmi.project import Project


def demo_password(user: str) -> str:
    """The password the demo plant's README publishes for ``user``."""
    return f"demo-{user}"


def on_demo_passwords(project: Project) -> list[str]:
    """The users of ``project`` whose password is still :func:`demo_password` (one hash
    check each: tens of milliseconds; run it off the event loop)."""
    found = []
    for name, user in project.users.items():
        try:
            if verify_password(demo_password(name), user.password_hash):
                found.append(name)
        except PasswordHashError:
            continue  # a malformed hash logs no one in: not this check's business
    return found
