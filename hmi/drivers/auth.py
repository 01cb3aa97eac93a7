"""Authorization where the write happens: the driver checks the command's signed session.

The default :func:`hmi.drivers.writes.role_check` trusts the roles a command claims, which
is fine in one process with one operator. Across processes a crafted ``cmd/`` message could
claim anything, so a plant with a security service gives its drivers
:func:`token_authorizer`: the roles come from the token the security service signed.
"""

from __future__ import annotations

from collections.abc import Callable

from hmi.core.command import Command
from hmi.core.identity import Unauthorized, authorize_command
from hmi.core.tag import Tag
from hmi.drivers.writes import Authorizer


def token_authorizer(key: bytes, clock: Callable[[], float]) -> Authorizer:
    """An authorizer that verifies ``command.token`` with the plant ``key``."""

    def authorize(command: Command, tag: Tag) -> str | None:
        try:
            authorize_command(
                command.token,
                command.user,
                tag.name,
                write_roles=tag.write_roles,
                key=key,
                now=clock(),
            )
        except Unauthorized as exc:
            return str(exc)
        return None

    return authorize
