"""Where a password comes from in a project file: ``password_file`` (a path beside the
project) or ``password_env`` (an environment variable's name), never the password itself.
The password is read only where it is used (:mod:`hmi.drivers.secrets`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hmi.project.fields import Fields
from hmi.project.paths import safe_resolve

_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Secret:
    """Where a password comes from: a file (absolute) or an environment variable."""

    file: Path | None = None
    env: str = ""

    @property
    def given(self) -> bool:
        """True when either is set."""
        return self.file is not None or bool(self.env)


def read_secret_fields(section: Fields, folder: Path) -> Secret | None:
    """``password_file`` or ``password_env`` of ``section`` (neither: an empty Secret)."""
    if section.has("password"):
        section.ctx.error(
            section.node_of("password"),
            f"{section.path}.password",
            "a password is never written in the project file: name a file holding it "
            "(password_file) or an environment variable (password_env)",
        )
        return None
    file = section.text("password_file", "")
    env = section.text("password_env", "")
    if file is None or env is None:
        return None
    if file and env:
        section.ctx.error(
            section.node_of("password_env"),
            f"{section.path}.password_env",
            "give password_file or password_env, not both",
        )
        return None
    if env and not _ENV.match(env):
        section.ctx.error(
            section.node_of("password_env"),
            f"{section.path}.password_env",
            f"expected an environment variable's name, found {env!r}",
        )
        return None
    path = None
    if file:
        path, problem = safe_resolve(folder / file)
        if problem:
            section.ctx.error(
                section.node_of("password_file"), f"{section.path}.password_file", problem
            )
            return None
    return Secret(path, env)
