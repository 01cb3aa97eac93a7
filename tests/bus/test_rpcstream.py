"""The stream endpoints' framing (hmi.bus.net.rpcstream): messages read in any chunks,
of any size the protocol allows, come out whole and in order; a frame longer than the
protocol allows puts the stream out of step."""

from __future__ import annotations

import random
import struct

import pytest

from hmi.bus.net.rpcstream import _Framer, encode
from hmi.bus.wire.frames import MAX_PAYLOAD


def read_in_chunks(framer: _Framer, data: bytes, rng: random.Random) -> list[list[bytes]]:
    """What a socket read into the framer's space brings, in reads of random sizes."""
    got: list[list[bytes]] = []
    pos = 0
    while pos < len(data):
        space = framer.space()
        n = min(len(space), rng.randrange(1, 70_000), len(data) - pos)
        space[:n] = data[pos : pos + n]
        pos += n
        messages = framer.filled(n)
        assert messages is not None
        got += messages
    return got


@pytest.mark.parametrize("seed", range(5))
def test_messages_come_out_whole_whatever_the_reads(seed):
    rng = random.Random(seed)
    sent = [
        [f"rpc/t{i}".encode(), rng.randbytes(rng.randrange(0, 40)), rng.randbytes(size)]
        for i, size in enumerate(rng.choice([0, 10, 3000, 70_000, 300_000]) for _ in range(60))
    ]
    framer = _Framer()
    assert read_in_chunks(framer, b"".join(map(encode, sent)), rng) == sent
    assert not framer.partial


def test_a_message_cut_short_is_partial_and_a_frame_too_long_is_refused():
    framer = _Framer()
    data = encode([b"rpc/x", b"h", b"payload"])
    space = framer.space()
    space[: len(data) - 1] = data[:-1]
    assert framer.filled(len(data) - 1) == [] and framer.partial
    framer = _Framer()
    too_long = struct.pack("<III", 5, 1, MAX_PAYLOAD + 1)
    framer.space()[: len(too_long)] = too_long
    assert framer.filled(len(too_long)) is None
