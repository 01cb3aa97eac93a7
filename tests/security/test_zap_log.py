"""The broker's CURVE door logs an unknown key once, not once per handshake: a node meets
the front and the back (two ZAP requests each time it connects), and a refused client
retries in a loop, so each attempt logged two lines, unthrottled."""

from __future__ import annotations

import logging

import pytest
import zmq

from hmi.bus.net.auth import Policy, ZapHandler

UNKNOWN = bytes(range(32))


def request(address: bytes) -> list[bytes]:
    return [b"1.0", b"1", b"", address, b"", b"CURVE", UNKNOWN]


def test_an_unknown_key_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "hmi.bus.net.auth")
    ctx = zmq.Context()
    try:
        zap = ZapHandler(ctx, Policy([]))
        try:
            answers = [zap._answer(request(b"10.0.0.9")) for _ in range(5)]
            answers.append(zap._answer(request(b"10.0.0.7")))  # another address: news
        finally:
            zap.close()
    finally:
        ctx.term()
    assert all(answer[2] == b"400" for answer in answers)  # every one refused
    assert zap.counts["refused"] == 6  # and counted
    lines = [r.getMessage() for r in caplog.records if r.name == "hmi.bus.net.auth"]
    assert len(lines) == 2, lines
    assert lines[0].endswith("from 10.0.0.9") and lines[1].endswith("from 10.0.0.7")
