"""Receiving ZeroMQ messages cheaply and safely (hmi.bus.net.zmqio), on inproc sockets."""

from __future__ import annotations

import asyncio

import pytest
import zmq

from hmi.bus.net.zmqio import Reader, recv_three, send_frames


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


def test_a_handler_answering_on_its_own_socket_loses_no_wake_up():
    """A reader does not schedule itself again for a send made while it hands a message
    over (the read after the handler drains the socket, which re-arms its signal): an echo
    server that answers every request inline still hears every later one, woken by the
    socket alone."""

    async def main():
        ctx = zmq.Context()
        server, client = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
        server.bind("inproc://echo")
        client.connect("inproc://echo")
        scheduled = []

        def echo(frames):
            send_frames(server, frames)  # (an answer on the socket being read)
            reader.kick()
            scheduled.append(reader._scheduled)

        reader = Reader(server, echo)
        reader.start()
        answered = 0
        try:
            for burst in range(20):
                for i in range(50):
                    client.send_multipart([b"%d-%d" % (burst, i)])
                while answered < (burst + 1) * 50:
                    await asyncio.sleep(0.001)
                    while client.poll(0):
                        client.recv_multipart()
                        answered += 1
        finally:
            reader.close()
            server.close(0)
            client.close(0)
            ctx.term()
        assert answered == 1000
        assert not any(scheduled)  # no turn of the loop for the kicks

    asyncio.run(asyncio.wait_for(main(), 10))
