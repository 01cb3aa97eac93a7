"""Receiving ZeroMQ messages cheaply and safely (hmi.bus.zmqio), on inproc sockets."""

from __future__ import annotations

import pytest
import zmq

from hmi.bus.zmqio import recv_three


@pytest.fixture
def pair():
    ctx = zmq.Context()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    push.bind("inproc://t")
    pull.connect("inproc://t")
    yield push, pull
    push.close(0)
    pull.close(0)
    ctx.term()


def test_recv_three_hands_over_three_frame_messages_and_flags_the_others(pair):
    push, pull = pair
    push.send_multipart([b"a", b"b", b"c"])
    push.send_multipart([b"1", b"2", b"3", b"4"])  # one too many: read to its end
    push.send_multipart([b"d", b"e", b"f"])
    push.send_multipart([b"x"])  # one frame: takes the next message with it
    push.send_multipart([b"g", b"h", b"i"])
    push.send_multipart([b"j", b"k", b"l"])
    push.send_multipart([b"y", b"z"])  # too short, nothing after it
    got = []
    while True:
        try:
            got.append(recv_three(pull))
        except zmq.Again:
            break
    assert got == [[b"a", b"b", b"c"], [], [b"d", b"e", b"f"], [], [b"j", b"k", b"l"], []]
