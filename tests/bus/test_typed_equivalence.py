"""The typed decoders (hmi.bus.wire.control, hmi.bus.wire.messages) accept what the hand-written
validators they replaced accepted, and decode it to the same (tests/bus/legacy_validators.py
is the old code, the oracle).

For valid payloads (the documented fields with their documented types, some left out,
unknown keys added to maps) the outcome is the same. Commands and results are compared on
*any* MessagePack map too: the same accepted, the same refused. For the other messages
the typed decoders are stricter where the old code coerced or ignored a field of the wrong
type (a HELLO whose ``pid`` is text was taken with pid 0, now it is dropped and counted);
for those the test checks that whatever the typed decoder accepts, the old code accepted
with the same result: nothing is let in that was kept out.
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hmi.bus.broker.brokerstats import NodeInfo
from hmi.bus.broker.roster import Roster
from hmi.bus.wire import control
from hmi.bus.wire.control import (
    CALL,
    CALL_RAW,
    EXPOSE,
    HEARTBEAT,
    HELLO,
    PREFIX,
    REPLY,
    ROUTE,
    WELCOME,
    BrokerBeat,
    Fault,
    decode,
)
from hmi.bus.wire.frames import FrameError
from hmi.bus.wire.messages import decode_command, decode_result
from hmi.bus.wire.samples import MalformedPayload
from hmi.core.command import CommandState

from . import legacy_validators as old

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(max_size=12)
names = st.text(min_size=1, max_size=12)
ints = st.integers(-(2**63), 2**64 - 1)
floats = st.floats(allow_nan=False)
numbers = st.one_of(ints.filter(lambda i: abs(i) < 2**53), floats)
values = st.one_of(st.none(), st.booleans(), ints, floats, text)
#: anything MessagePack carries (maps with text keys, as MessagePack unpacks them)
anything = st.recursive(
    st.one_of(st.none(), st.booleans(), ints, floats, text, st.binary(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)
states = st.sampled_from([state.value for state in CommandState])


def wire(payload: Any) -> Any:
    """``payload`` as a subscriber gets it over ZeroMQ."""
    return msgpack.unpackb(msgpack.packb(payload), raw=False)


def maps(required: dict[str, Any], optional: dict[str, Any], unknown: bool = True) -> Any:
    """Maps with the ``required`` keys, some of the ``optional`` ones, and (``unknown``)
    keys no version knows (ignored)."""
    known = {*required, *optional}
    base = st.fixed_dictionaries(required, optional=optional)
    if not unknown:
        return base
    extra = st.dictionaries(text.filter(lambda k: k not in known), anything, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, base, extra)


def either(good: Any) -> Any:
    """The documented type, or anything at all."""
    return st.one_of(good, anything)


def outcome(decode_it: Any, payload: Any) -> tuple[str, Any]:
    """``("ok", what)`` or ``("refused", None)``."""
    try:
        return "ok", decode_it(payload)
    except (old.Refused, MalformedPayload, FrameError):
        return "refused", None


def packed(decoder: Any, reason: str) -> Any:
    return lambda payload: decode(decoder, msgpack.packb(payload), reason)


# -- commands and results: the same on any map --------------------------------------------------
COMMAND_FIELDS = {
    "value": values,
    "user": text,
    "roles": st.lists(text, max_size=3),
    "node": text,
    "screen": text,
    "old_value": values,
    "time": numbers,
    "token": text,
    "reason": text,
}
RESULT_FIELDS = {
    "id": text,
    "tag": text,
    "value": values,
    "message": text,
    "time": numbers,
    "extra": st.dictionaries(text, anything, max_size=3),
}


@SETTINGS
@given(maps({"id": names, "tag": names}, COMMAND_FIELDS))
def test_valid_commands_decode_as_before(payload):
    assert decode_command(wire(payload)) == old.decode_command(wire(payload))


@SETTINGS
@given(
    maps(
        {"id": either(text), "tag": either(text)},
        {key: either(strategy) for key, strategy in COMMAND_FIELDS.items()},
    )
)
def test_any_command_map_is_accepted_or_refused_as_before(payload):
    assert outcome(decode_command, wire(payload)) == outcome(old.decode_command, wire(payload))


@SETTINGS
@given(maps({"state": states}, RESULT_FIELDS))
def test_valid_results_decode_as_before(payload):
    assert decode_result(wire(payload)) == old.decode_result(wire(payload))


@SETTINGS
@given(
    maps(
        {"state": either(states)},
        {key: either(strategy) for key, strategy in RESULT_FIELDS.items()},
    )
)
def test_any_result_map_is_accepted_or_refused_as_before(payload):
    assert outcome(decode_result, wire(payload)) == outcome(old.decode_result, wire(payload))


def test_a_state_is_decoded_by_its_text_whatever_states_there_are():
    for state in CommandState:
        payload = {"id": "c", "tag": "a/b", "state": state.value}
        assert decode_result(wire(payload)).state is state


# -- control messages: the same for valid ones, never more lenient ------------------------------
HELLO_FIELDS = {
    "name": text,
    "pid": ints.filter(lambda i: i < 2**63),
    "host": text,
    "targets": st.lists(text, max_size=3),
    "rpc": st.one_of(text, st.just("tcp://127.0.0.1:5999"), st.just("ipc:///tmp/x.rpc")),
    "heartbeat": numbers,
}


def new_hello(payload: Any) -> dict[str, Any]:
    hello = decode(HELLO, msgpack.packb(payload), "hello")
    node = NodeInfo(b"n", "n")
    Roster(1.0, None, {}).hello(node, hello)
    return {
        "name": node.name,
        "host": node.host,
        "pid": node.pid,
        "heartbeat": node.heartbeat,
        "rpc": node.rpc,
        "targets": hello.targets,
    }


@SETTINGS
@given(maps({}, HELLO_FIELDS))
def test_valid_hellos_are_taken_as_before(payload):
    assert new_hello(payload) == old.hello(wire(payload))


@SETTINGS
@given(maps({}, {key: either(strategy) for key, strategy in HELLO_FIELDS.items()}))
def test_a_hello_the_typed_decoder_takes_was_taken_the_same_before(payload):
    new = outcome(new_hello, payload)
    if new[0] == "ok":
        assert new == outcome(old.hello, wire(payload))


HEARTBEAT_FIELDS = {
    "pid": ints.filter(lambda i: i < 2**63),
    "heartbeat": numbers,
    "published": st.integers(0, 2**63 - 1),
    "received": st.integers(0, 2**63 - 1),
    # counters the typed decoder knows (so no generated "unknown" key may take their names)
    "malformed": st.integers(0, 2**63 - 1),
    "gaps": st.integers(0, 2**63 - 1),
    "dropped": st.integers(0, 2**63 - 1),
}


def new_heartbeat(payload: Any) -> tuple[int, float]:
    beat = decode(HEARTBEAT, msgpack.packb(payload), "heartbeat")
    node = NodeInfo(b"n", "n", pid=7, heartbeat=0.5)
    Roster.beat(node, beat)
    return node.pid, node.heartbeat


@SETTINGS
@given(maps({}, HEARTBEAT_FIELDS))
def test_valid_heartbeats_are_taken_as_before(payload):
    assert new_heartbeat(payload) == old.heartbeat(wire(payload), 7, 0.5)


@SETTINGS
@given(either(maps({}, {key: either(s) for key, s in HEARTBEAT_FIELDS.items()})))
def test_a_heartbeat_the_typed_decoder_takes_was_taken_the_same_before(payload):
    new = outcome(new_heartbeat, payload)
    if new[0] == "ok":
        assert new[1] == old.heartbeat(wire(payload), 7, 0.5)


def new_welcome(payload: Any) -> tuple[str, str, float | None]:
    welcome = decode(WELCOME, msgpack.packb(payload), "welcome")
    beat = welcome.heartbeat if 0 < welcome.heartbeat < 86_400 else None
    return welcome.id, welcome.pub, beat


def old_welcome(payload: Any) -> tuple[str, str, float | None]:
    broker_id, pub, beat = old.welcome(wire(payload))
    # (an absent endpoint was None, now ''; the publisher takes either for none)
    return broker_id, pub or "", beat


@SETTINGS
@given(maps({"id": names}, {"pub": text, "heartbeat": numbers}))
def test_valid_welcomes_are_taken_as_before(payload):
    assert new_welcome(payload) == old_welcome(payload)


@SETTINGS
@given(either(maps({"id": either(text)}, {"pub": either(text), "heartbeat": either(numbers)})))
def test_a_welcome_the_typed_decoder_takes_was_taken_the_same_before(payload):
    new = outcome(new_welcome, payload)
    if new[0] == "ok":
        assert new == outcome(old_welcome, payload)


@SETTINGS
@given(maps({"id": names}, {"time": numbers, "heartbeat": numbers}))
def test_valid_broker_heartbeats_are_taken_as_before(payload):
    got = control.convert(wire(payload), BrokerBeat, "broker_beat").id
    assert got == old.broker_beat(wire(payload))


def new_expose(payload: Any) -> tuple[str, bool]:
    expose = decode(EXPOSE, msgpack.packb(payload), "expose")
    return expose.target, expose.exposed


@SETTINGS
@given(st.one_of(anything, st.tuples(either(text), either(st.booleans())).map(list)))
def test_an_expose_the_typed_decoder_takes_was_taken_the_same_before(payload):
    new = outcome(new_expose, payload)
    if new[0] == "ok":
        assert new == outcome(old.expose, wire(payload))


@SETTINGS
@given(text, st.booleans())
def test_valid_exposes_are_taken_as_before(target, exposed):
    assert new_expose([target, exposed]) == old.expose([target, exposed])


@SETTINGS
@given(either(text))
def test_snapshot_requests_are_taken_as_before(payload):
    assert outcome(packed(PREFIX, "snapshot_request"), payload) == outcome(
        old.snapshot_request, wire(payload)
    )


def new_route(payload: Any) -> tuple[str, str]:
    route = decode(ROUTE, msgpack.packb(payload), "route")
    if not route.endpoint.startswith(("tcp://", "ipc://")):  # (NodeRpc.on_route's check)
        raise FrameError("route")
    return route.target, route.endpoint


@SETTINGS
@given(
    st.tuples(
        either(text), either(st.sampled_from(["tcp://127.0.0.1:1", "ipc:///x", "udp://x"]))
    ).map(list)
    | anything
)
def test_routes_are_taken_as_before(payload):
    assert outcome(new_route, payload) == outcome(old.route, wire(payload))


# -- RPC ------------------------------------------------------------------------------------
calls = st.tuples(
    ints.filter(lambda i: i < 2**63),
    text,
    st.lists(anything, max_size=3),
    st.dictionaries(text, anything, max_size=3),
).map(list)


def new_call(payload: Any) -> tuple[int, str, list[Any], dict[str, Any]]:
    call = decode(CALL, msgpack.packb(payload), "rpc_request")
    return call.call_id, call.method, call.args, call.kwargs


@SETTINGS
@given(calls)
def test_valid_requests_are_taken_as_before_by_the_broker_and_the_target(payload):
    assert new_call(payload) == old.call(wire(payload))
    routed = decode(CALL_RAW, msgpack.packb(payload), "rpc_request")
    assert routed.call_id == old.routed_call_id(wire(payload))


@SETTINGS
@given(
    st.one_of(
        anything,
        st.tuples(
            either(ints.filter(lambda i: i < 2**63)),
            either(text),
            either(st.lists(anything, max_size=3)),
            either(st.dictionaries(text, anything, max_size=3)),
        ).map(list),
    )
)
def test_a_request_the_typed_decoder_takes_was_taken_the_same_before(payload):
    new = outcome(new_call, payload)
    if new[0] == "ok":
        assert new == outcome(old.call, wire(payload))


def new_reply(payload: Any) -> tuple[int, str, Any]:
    reply = decode(REPLY, msgpack.packb(payload), "rpc_reply")
    if reply.ok:
        return reply.call_id, "result", reply.value
    try:
        fault = control.convert(reply.value, Fault, "rpc_reply")
    except FrameError:
        return reply.call_id, "protocol", None
    return reply.call_id, "error", (fault.type, fault.message)


replies = st.tuples(
    ints.filter(lambda i: i < 2**63),
    st.booleans(),
    st.one_of(anything, st.tuples(text, text).map(list)),
).map(list)


@SETTINGS
@given(replies)
def test_valid_replies_resolve_calls_as_before(payload):
    assert new_reply(payload) == old.reply(wire(payload))


@SETTINGS
@given(
    st.one_of(
        anything,
        st.tuples(either(ints.filter(lambda i: i < 2**63)), either(st.booleans()), anything).map(
            list
        ),
    )
)
def test_a_reply_the_typed_decoder_takes_was_taken_the_same_before(payload):
    new = outcome(new_reply, payload)
    if new[0] == "ok":
        assert new == outcome(old.reply, wire(payload))


@pytest.mark.parametrize(
    ("decoder", "payload", "why"),
    [
        (HELLO, {"name": "x", "pid": "12"}, "Expected `int`, got `str` - at `$.pid`"),
        (HELLO, {"targets": ["a", 1]}, "Expected `str`, got `int` - at `$.targets[1]`"),
        (HEARTBEAT, {"heartbeat": "1"}, "Expected `float`, got `str` - at `$.heartbeat`"),
        (EXPOSE, ["pump", 1], "Expected `bool`, got `int` - at `$[1]`"),
    ],
)
def test_what_the_old_code_coerced_is_now_refused_with_the_field_named(decoder, payload, why):
    with pytest.raises(FrameError) as raised:
        decode(decoder, msgpack.packb(payload), "reason")
    assert raised.value.reason == "reason"
    assert raised.value.detail == why
