"""The hand-written payload validators the typed messages (hmi.bus.wire.control,
hmi.bus.wire.messages) replaced, as they were before (commit 23947e0): the oracle of
test_typed_equivalence.py, which checks that the typed decoders accept what these accepted
for valid payloads, and decode it to the same. Kept here only for that comparison.

Each function takes the payload as the old code got it (unpacked by MessagePack) and
returns what the old code took from it, or raises :class:`Refused` where it dropped it.
"""

from __future__ import annotations

from typing import Any

from hmi.core.command import Command, CommandResult, CommandState

_VALUE_TYPES = (bool, int, float, str, type(None))
MIN_HEARTBEAT, MAX_HEARTBEAT = 0.05, 3600.0


class Refused(ValueError):
    """The old code dropped the payload (or raised MalformedPayload)."""


# -- hmi/bus/wire/messages.py --------------------------------------------------------------------
def _text(data: dict[Any, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise Refused(f"{key!r} must be text, not {value!r}")
    return value


def _value(data: dict[Any, Any], key: str) -> Any:
    value = data.get(key)
    if type(value) not in _VALUE_TYPES:
        raise Refused(f"{key!r} must be a bool, number, text or null")
    return value


def _time(data: dict[Any, Any]) -> float:
    value = data.get("time", 0.0)
    if type(value) not in (int, float):
        raise Refused("'time' must be a number")
    return float(value)


def decode_command(payload: Any) -> Command:
    if not isinstance(payload, dict):
        raise Refused("a command must be a map")
    roles = payload.get("roles", [])
    if not isinstance(roles, list | tuple) or not all(isinstance(r, str) for r in roles):
        raise Refused("'roles' must be a list of text")
    if not _text(payload, "id") or not _text(payload, "tag"):
        raise Refused("a command needs 'id' and 'tag'")
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


def decode_result(payload: Any) -> CommandResult:
    if not isinstance(payload, dict):
        raise Refused("a command result must be a map")
    try:
        state = CommandState(_text(payload, "state"))
    except ValueError:
        raise Refused(f"unknown command state {payload.get('state')!r}") from None
    extra = payload.get("extra", {})
    if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
        raise Refused("'extra' must be a map with text keys")
    return CommandResult(
        id=_text(payload, "id"),
        tag=_text(payload, "tag"),
        state=state,
        value=_value(payload, "value"),
        message=_text(payload, "message"),
        time=_time(payload),
        extra=dict(extra),
    )


# -- hmi/bus/broker/roster.py: HELLO and HEARTBEAT at the broker -----------------------------------
def _interval(value: Any, default: float) -> float:
    if (type(value) is not float and type(value) is not int) or not value > 0:
        return default
    return min(MAX_HEARTBEAT, max(MIN_HEARTBEAT, float(value)))


def hello(payload: Any) -> dict[str, Any]:
    """What Roster.hello kept of a HELLO (with direct endpoints) and the targets claimed."""
    if not isinstance(payload, dict):
        raise Refused("hello")
    rpc = payload.get("rpc", "")
    if not (isinstance(rpc, str) and rpc.startswith(("tcp://", "ipc://")) and len(rpc) < 256):
        rpc = ""
    targets = payload.get("targets", [])
    pid = payload.get("pid", 0)
    return {
        "name": str(payload.get("name", "")),
        "host": str(payload.get("host", "")),
        "pid": pid if type(pid) is int else 0,
        "heartbeat": _interval(payload.get("heartbeat"), 0.0),
        "rpc": rpc
        if isinstance(rpc, str) and rpc.startswith(("tcp://", "ipc://")) and len(rpc) < 256
        else "",
        "targets": [t for t in targets if isinstance(t, str)] if isinstance(targets, list) else [],
    }


def heartbeat(payload: Any, pid: int, interval: float) -> tuple[int, float]:
    """A node's ``(pid, interval)`` after a HEARTBEAT (a payload not a map changed nothing)."""
    if isinstance(payload, dict):
        if type(payload.get("pid")) is int:
            pid = payload["pid"]
        interval = _interval(payload.get("heartbeat"), interval)
    return pid, interval


# -- hmi/bus/broker/doors.py: EXPOSE ---------------------------------------------------------------
def expose(payload: Any) -> tuple[str, bool]:
    if type(payload) is not list or len(payload) != 2 or not isinstance(payload[0], str):
        raise Refused("expose")
    return payload[0], bool(payload[1])


# -- hmi/bus/broker/server.py: SNAPSHOT_REQ and an RPC_REQ it routes ------------------------------
def snapshot_request(payload: Any) -> str:
    if not isinstance(payload, str):
        raise Refused("snapshot_request")
    return payload


def routed_call_id(payload: Any) -> int:
    if type(payload) is not list or not payload or type(payload[0]) is not int:
        raise Refused("rpc_request")
    return payload[0]


# -- hmi/bus/net/session.py: the welcome and $sys/broker heartbeats at the node ------------------
def welcome(payload: Any) -> tuple[str, str, float | None]:
    """``(broker id, fast path as announced, broker heartbeat or None: not taken)``."""
    broker_id = payload.get("id") if isinstance(payload, dict) else None
    if not isinstance(broker_id, str):
        raise Refused("welcome")
    beat = payload.get("heartbeat")
    taken = (
        float(beat) if (type(beat) is float or type(beat) is int) and 0 < beat < 86_400 else None
    )
    return broker_id, payload.get("pub"), taken


def broker_beat(payload: Any) -> str:
    broker_id = payload.get("id") if isinstance(payload, dict) else None
    if not isinstance(broker_id, str) or not broker_id:
        raise Refused("broker_beat")
    return broker_id


# -- hmi/bus/net/noderpc.py: ROUTE, RPC_REQ and RPC_REP at the node ------------------------------
def route(payload: Any) -> tuple[str, str]:
    if (
        type(payload) is not list
        or len(payload) != 2
        or type(payload[0]) is not str
        or type(payload[1]) is not str
        or not payload[1].startswith(("tcp://", "ipc://"))
    ):
        raise Refused("route")
    return payload[0], payload[1]


def call(payload: Any) -> tuple[int, str, list[Any], dict[Any, Any]]:
    if (
        type(payload) is not list
        or len(payload) != 4
        or type(payload[0]) is not int
        or type(payload[1]) is not str
        or type(payload[2]) is not list
        or type(payload[3]) is not dict
    ):
        raise Refused("rpc_request")
    return payload[0], payload[1], payload[2], payload[3]


def reply(payload: Any) -> tuple[int, str, Any]:
    """``(call_id, outcome, what)``: ``("result", value)``, ``("error", (type, message))``
    or ``("protocol", None)`` (a malformed error: the call failed as a ProtocolError)."""
    if type(payload) is not list or len(payload) != 3 or type(payload[0]) is not int:
        raise Refused("rpc_reply")
    call_id, ok, value = payload
    if ok is True:
        return call_id, "result", value
    if type(value) is list and len(value) == 2 and all(type(v) is str for v in value):
        return call_id, "error", (value[0], value[1])
    return call_id, "protocol", None
