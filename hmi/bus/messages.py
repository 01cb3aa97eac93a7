"""Commands and their results on the bus: ``cmd/<tag>`` and ``result/<tag>`` payloads.

The payload is the dict form of :class:`hmi.core.Command` / :class:`hmi.core.CommandResult`
(roles as a sorted list, state as its text), the same in memory and on the wire, so code
does not change between transports. Decoding validates and raises MalformedPayload.
"""

from __future__ import annotations

from typing import Any

from hmi.bus.samples import MalformedPayload
from hmi.core.command import Command, CommandResult, CommandState

_VALUE_TYPES = (bool, int, float, str, type(None))


def encode_command(command: Command) -> dict[str, Any]:
    """The payload of a ``cmd/<tag>`` message."""
    return {
        "id": command.id,
        "tag": command.tag,
        "value": command.value,
        "user": command.user,
        "roles": sorted(command.roles),
        "node": command.node,
        "screen": command.screen,
        "old_value": command.old_value,
        "time": command.time,
        "token": command.token,
        "reason": command.reason,
    }


def _text(data: dict[Any, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise MalformedPayload(f"{key!r} must be text, not {value!r}")
    return value


def _value(data: dict[Any, Any], key: str) -> Any:
    value = data.get(key)
    if type(value) not in _VALUE_TYPES:
        raise MalformedPayload(f"{key!r} must be a bool, number, text or null")
    return value


def _time(data: dict[Any, Any]) -> float:
    value = data.get("time", 0.0)
    if type(value) not in (int, float):
        raise MalformedPayload("'time' must be a number")
    return float(value)


def decode_command(payload: Any) -> Command:
    """The :class:`Command` of a ``cmd/<tag>`` payload (raises MalformedPayload)."""
    if not isinstance(payload, dict):
        raise MalformedPayload("a command must be a map")
    roles = payload.get("roles", [])
    if not isinstance(roles, list | tuple) or not all(isinstance(r, str) for r in roles):
        raise MalformedPayload("'roles' must be a list of text")
    if not _text(payload, "id") or not _text(payload, "tag"):
        raise MalformedPayload("a command needs 'id' and 'tag'")
    return Command(
        id=_text(payload, "id"),
        tag=_text(payload, "tag"),
        value=_value(payload, "value"),
        user=_text(payload, "user"),
        roles=frozenset(roles),
        node=_text(payload, "node"),
        screen=_text(payload, "screen"),
        old_value=_value(payload, "old_value"),
        time=_time(payload),
        token=_text(payload, "token"),
        reason=_text(payload, "reason"),
    )


def encode_result(result: CommandResult) -> dict[str, Any]:
    """The payload of a ``result/<tag>`` message."""
    return {
        "id": result.id,
        "tag": result.tag,
        "state": result.state.value,
        "value": result.value,
        "message": result.message,
        "time": result.time,
        "extra": dict(result.extra),
    }


def decode_result(payload: Any) -> CommandResult:
    """The :class:`CommandResult` of a ``result/<tag>`` payload (raises MalformedPayload)."""
    if not isinstance(payload, dict):
        raise MalformedPayload("a command result must be a map")
    try:
        state = CommandState(_text(payload, "state"))
    except ValueError:
        raise MalformedPayload(f"unknown command state {payload.get('state')!r}") from None
    extra = payload.get("extra", {})
    if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
        raise MalformedPayload("'extra' must be a map with text keys")
    return CommandResult(
        id=_text(payload, "id"),
        tag=_text(payload, "tag"),
        state=state,
        value=_value(payload, "value"),
        message=_text(payload, "message"),
        time=_time(payload),
        extra=dict(extra),
    )
