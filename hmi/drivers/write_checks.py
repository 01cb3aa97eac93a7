"""The checks every protocol's writes share, and the words of their results.

Who may write is decided by the project's grants, one rule for every writer and the
GUI: :meth:`hmi.core.permissions.Grants.authorize` with the ``write`` permission and the
tag's ``write_roles``; a value outside the tag's limits is refused before any protocol
sees it. The protocol then turns the command into its own request (Modbus:
:mod:`hmi.drivers.writes`; OPC UA: :mod:`hmi.drivers.opcua.writes`).
"""

from __future__ import annotations

from collections.abc import Callable

from hmi.core.command import Command
from hmi.core.format import format_value
from hmi.core.identity import Identity, Unauthorized
from hmi.core.permissions import Grants, Permission
from hmi.core.sample import Sample
from hmi.core.tag import Tag

#: returns why ``command`` may not write ``tag``, or None when it may
Authorizer = Callable[[Command, Tag], str | None]

#: the grants of the default roles (a manager built without a project's)
DEFAULT_GRANTS = Grants()

#: the shortest interval between two reads of a write that settles (s): every poll
#: period of its tag, at least four reads over its settle time, but not more often
SETTLE_READ_MIN = 0.05


class Rejected(ValueError):
    """The command may not be executed; the message says why, for the operator."""


def write_refusal(identity: Identity, tag: Tag, grants: Grants) -> str | None:
    """Why ``identity`` may not write ``tag`` under ``grants``, or None when it may."""
    try:
        grants.authorize(identity, Permission.WRITE, tag.name, target_roles=tag.write_roles)
    except Unauthorized as exc:
        return str(exc)
    return None


def role_check(command: Command, tag: Tag) -> str | None:
    """The library default: the user and roles the command *claims*, under the default
    grants.

    It trusts the command, so it is for tests and benchmarks only; the driver actor
    checks every command with :func:`session_authorizer` of its verified session.
    """
    return write_refusal(Identity(command.user or "user", command.roles), tag, DEFAULT_GRANTS)


def session_authorizer(identity: Identity, grants: Grants = DEFAULT_GRANTS) -> Authorizer:
    """An authorizer for commands of a verified session: its user and roles decide.

    The user a command claims must be the session's (or none); the roles the command
    claims are ignored.
    """

    def authorize(command: Command, tag: Tag) -> str | None:
        if command.user and command.user != identity.user:
            return f"command claims user {command.user!r} but session is {identity.user!r}"
        return write_refusal(identity, tag, grants)

    return authorize


def check_write(command: Command, tag: Tag, authorize: Authorizer = role_check) -> None:
    """The checks every protocol shares: rights, a device to write to, the tag's limits;
    raise :class:`Rejected` with the reason for the operator."""
    why = authorize(command, tag)
    if why:
        raise Rejected(why)
    if tag.source is None:
        raise Rejected(f"{tag.name} has no device to write to")
    if not tag.source.address.writable:
        address = tag.source.address
        raise Rejected(f"{tag.name} is at {address}, which the protocol cannot write")
    value = command.value
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and not tag.limits.contains(value):  # type: ignore[arg-type]
        low, high = tag.limits.low, tag.limits.high
        raise Rejected(f"{value} is outside the limits {low}..{high} of {tag.name}")


def overridden_message(sample: Sample, tag: Tag | None) -> str:
    """What an operator reads when the device holds another value than the one written."""
    return f"overridden by device: reads {format_value(sample.value, tag, with_unit=True)}"


def pulse_message(sample: Sample, tag: Tag | None) -> str:
    """A pulse (``settle: 0``) the device took and cleared before its read-back."""
    return f"a pulse: the device reads {format_value(sample.value, tag, with_unit=True)} again"
