"""Samples, commands and results survive encoding, through MessagePack too."""

from __future__ import annotations

import msgpack
import pytest

from hmi.bus.wire.messages import decode_command, decode_result, encode_command, encode_result
from hmi.bus.wire.samples import MalformedPayload, decode_samples, encode_samples
from hmi.core import Command, CommandResult, CommandState, Quality, Reason, Sample


def wire(payload):
    return msgpack.unpackb(msgpack.packb(payload), raw=False)


def test_samples_round_trip_with_qualities():
    batch = {
        "a/b/flow": Sample(12.5, source_time=100.0),
        "a/b/run": Sample(True, Quality.uncertain(Reason.LAST_KNOWN_VALUE), 101.0),
        "a/b/name": Sample("P-101", Quality.bad(Reason.DEVICE_FAILURE, "timeout"), 102.0),
        "a/b/none": Sample(None, Quality.bad(Reason.WAITING_FOR_INITIAL_DATA), 0.0),
    }
    decoded = decode_samples(wire(encode_samples(batch)), receive_time=200.0)
    for name, sample in batch.items():
        assert decoded[name].value == sample.value
        assert decoded[name].quality == sample.quality
        assert decoded[name].source_time == sample.source_time
        assert decoded[name].receive_time == 200.0


def test_decoded_samples_are_the_samples_the_constructor_makes():
    # decode_samples builds Samples through their slots (faster than the frozen __init__)
    batch = {
        "a/b/flow": Sample(12.5, source_time=100.0, receive_time=7.0),
        "a/b/run": Sample(True, Quality.uncertain(Reason.LAST_KNOWN_VALUE), 101, 7.0),
    }
    decoded = decode_samples(wire(encode_samples(batch)), receive_time=7.0)
    assert decoded == batch
    assert {hash(s) for s in decoded.values()} == {hash(s) for s in batch.values()}
    assert all(type(s) is Sample for s in decoded.values())
    with pytest.raises(AttributeError):
        decoded["a/b/flow"].value = 3  # still frozen


def test_good_quality_costs_one_byte():
    assert encode_samples({"a/b": Sample(1, source_time=2.0)}) == [["a/b", 1, 0, 2.0]]


def test_every_reason_survives_the_wire_broker_lost_too():
    for reason in Reason:
        quality = Quality.uncertain(reason, "d")
        (sample,) = decode_samples(wire(encode_samples({"a/b": Sample(1.0, quality)}))).values()
        assert sample.quality == quality
    wired = [["a/b", 2.0, [1, "broker lost", "broker tcp://h:5570 silent"], 1.0]]
    (sample,) = decode_samples(wired).values()
    assert sample.quality.reason is Reason.BROKER_LOST


def test_unknown_reason_keeps_severity():
    (sample,) = decode_samples([["a/b", 1, [1, "from the future", "x"], 0.0]]).values()
    assert sample.quality.severity.name == "UNCERTAIN"
    assert "from the future" in sample.quality.detail


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {"a": 1},
        [["a/b", 1, 0]],
        [["a/b", [1], 0, 0.0]],
        [[1, 1, 0, 0.0]],
        [["a/b", 1, 5, 0.0]],
        [["a/b", 1, [9, "none", ""], 0.0]],
        [["a/b", 1, [1, 2, 3], 0.0]],
        [["a/b", 1, 0, "now"]],
        ["abcd"],
    ],
)
def test_malformed_samples_raise_malformed_payload(bad):
    with pytest.raises(MalformedPayload):
        decode_samples(bad)


def test_command_and_result_round_trip():
    cmd = Command("c1", "a/b/sp", 42.0, user="ann", roles=frozenset({"op", "eng"}), time=5.0)
    assert decode_command(wire(encode_command(cmd))) == cmd
    res = CommandResult("c1", "a/b/sp", CommandState.CONFIRMED, 42.0, "ok", 6.0, {"n": 1})
    assert decode_result(wire(encode_result(res))) == res


@pytest.mark.parametrize(
    "bad",
    [None, [], {"id": "x"}, {"id": 1, "tag": "a/b"}, {"id": "x", "tag": "a/b", "roles": "op"}],
)
def test_malformed_commands_raise(bad):
    with pytest.raises(MalformedPayload):
        decode_command(bad)


def test_malformed_result_state_raises():
    with pytest.raises(MalformedPayload):
        decode_result({"id": "x", "tag": "a/b", "state": "maybe"})
