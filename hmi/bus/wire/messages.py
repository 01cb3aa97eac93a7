"""Commands and their results on the bus: ``cmd/<tag>`` and ``result/<tag>`` payloads.

The payload is the map of a :class:`CommandMessage` / :class:`ResultMessage` (the fields
of :class:`hmi.core.Command` / :class:`hmi.core.CommandResult`, roles as a sorted list,
state as its text), the same in memory and on the wire, so code does not change between
transports. Subscribers get the payload as it was published (in memory) or unpacked (over
ZeroMQ); decoding converts it into the typed message in one pass (msgspec), which is the
validation: a payload of another shape raises MalformedPayload saying which field is wrong
and what was expected, and nothing of it is used. Keys a message does not know are
ignored (later versions may add some); missing ones take their defaults, but a command
needs its ``id`` and ``tag``, and a result its ``state``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hmi.bus.wire.control import NonEmpty
from hmi.bus.wire.samples import MalformedPayload
from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.sample import Value


class CommandMessage(msgspec.Struct, frozen=True, gc=False):
    """A ``cmd/<tag>`` payload (docs/bus-protocol.md, "Command")."""

    id: NonEmpty
    tag: NonEmpty
    value: Value = None
    user: str = ""
    roles: list[str] = []
    node: str = ""
    screen: str = ""
    old_value: Value = None
    time: float = 0.0
    token: str = ""
    reason: str = ""


class ResultMessage(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A ``result/<tag>`` payload. ``state`` is decoded by its text (a state added to
    :class:`CommandState` is known at once)."""

    id: str = ""
    tag: str = ""
    state: CommandState
    value: Value = None
    message: str = ""
    time: float = 0.0
    #: free-form details of the writer (values of any MessagePack type)
    extra: dict[str, Any] = {}


def encode_command(command: Command) -> dict[str, Any]:
    """The payload of a ``cmd/<tag>`` message."""
    message = CommandMessage(
        id=command.id,
        tag=command.tag,
        value=command.value,
        user=command.user,
        roles=sorted(command.roles),
        node=command.node,
        screen=command.screen,
        old_value=command.old_value,
        time=command.time,
        token=command.token,
        reason=command.reason,
    )
    return msgspec.structs.asdict(message)


def decode_command(payload: Any) -> Command:
    """The :class:`Command` of a ``cmd/<tag>`` payload (raises MalformedPayload)."""
    try:
        message = msgspec.convert(payload, CommandMessage)
    except msgspec.ValidationError as exc:
        raise MalformedPayload(f"malformed command: {exc}") from None
    return Command(
        id=message.id,
        tag=message.tag,
        value=message.value,
        user=message.user,
        roles=frozenset(message.roles),
        node=message.node,
        screen=message.screen,
        old_value=message.old_value,
        time=message.time,
        token=message.token,
        reason=message.reason,
    )


def encode_result(result: CommandResult) -> dict[str, Any]:
    """The payload of a ``result/<tag>`` message."""
    message = ResultMessage(
        id=result.id,
        tag=result.tag,
        state=result.state,
        value=result.value,
        message=result.message,
        time=result.time,
        extra=dict(result.extra),
    )
    payload = msgspec.structs.asdict(message)
    payload["state"] = result.state.value  # (its text, also in memory)
    return payload


def decode_result(payload: Any) -> CommandResult:
    """The :class:`CommandResult` of a ``result/<tag>`` payload (raises MalformedPayload)."""
    try:
        message = msgspec.convert(payload, ResultMessage)
    except msgspec.ValidationError as exc:
        raise MalformedPayload(f"malformed command result: {exc}") from None
    return CommandResult(
        id=message.id,
        tag=message.tag,
        state=message.state,
        value=message.value,
        message=message.message,
        time=message.time,
        extra=message.extra,
    )
