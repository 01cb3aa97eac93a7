"""Passwords named by a project file (:class:`hmi.project.secrets.Secret`), read where they
are used: from a file or the environment, never argv, never logged."""

from __future__ import annotations

import os

from hmi.project.secrets import Secret

#: a password file larger than this is not a password file
_MAX_BYTES = 4096


class SecretError(ValueError):
    """A password that cannot be read; the message says which and why."""


def read_secret(secret: Secret, what: str = "") -> str:
    """The password ``secret`` names ("" when it names none); SecretError saying why not,
    after ``what`` (who needs it: ``plc2: cannot read the password file ...``).

    A file's trailing newline is not part of the password (``echo pw > file``).
    """
    who = f"{what}: " if what else ""
    if secret.env:
        value = os.environ.get(secret.env)
        if value is None:
            raise SecretError(f"{who}the password's environment variable {secret.env} is not set")
        return value
    if secret.file is None:
        return ""
    try:
        with secret.file.open("rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        why = exc.strerror or exc
        raise SecretError(f"{who}cannot read the password file {secret.file}: {why}") from None
    if len(data) > _MAX_BYTES:
        raise SecretError(f"{who}the password file {secret.file} is too large to be one")
    try:
        return data.decode().rstrip("\r\n")
    except UnicodeDecodeError:
        raise SecretError(f"{who}the password file {secret.file} is not UTF-8 text") from None
