"""Device errors in the log: one line per device and kind per interval, with a counter.

On a settable clock: deterministic, no sleeping.
"""

from __future__ import annotations

import logging

import pytest

from hmi.drivers.errlog import ErrorLog

LOG = "tests.errlog"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOG]


def test_one_line_per_device_and_kind_per_interval_and_a_count_of_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOG)
    clock = Clock()
    errors = ErrorLog(logging.getLogger(LOG), interval=60.0, clock=clock)
    for i in range(100):  # 100 wrong replies within 10 s
        clock.now = 100.0 + i / 10
        errors.report("plc1", "response", f"plc1: wrong reply to hr:0+10: #{i}")
        errors.report("plc2", "response", "plc2: wrong reply to hr:0+10")
        errors.report("plc1", "timeout", "plc1: no answer to hr:0+10 (timeout 0.5 s)")
        errors.flush()  # every status interval: nothing is due yet
    assert lines(caplog) == [
        ("ERROR", "plc1: wrong reply to hr:0+10: #0"),
        ("ERROR", "plc2: wrong reply to hr:0+10"),
        ("ERROR", "plc1: no answer to hr:0+10 (timeout 0.5 s)"),
    ]
    caplog.clear()

    clock.now = 160.0  # the interval is over: one summary each, with the last message
    errors.flush()
    assert lines(caplog) == [
        ("ERROR", "plc1: wrong reply to hr:0+10: #99 (and 99 more wrong replies in 60 s)"),
        ("ERROR", "plc2: wrong reply to hr:0+10 (and 99 more wrong replies in 60 s)"),
        ("ERROR", "plc1: no answer to hr:0+10 (timeout 0.5 s) (and 99 more timeouts in 60 s)"),
    ]
    caplog.clear()

    # the summary opened the next interval: still at most one line per interval
    clock.now = 170.0
    errors.report("plc1", "response", "plc1: wrong reply again")
    errors.flush()
    assert lines(caplog) == []
    clock.now = 220.0
    errors.flush()
    assert lines(caplog) == [
        ("ERROR", "plc1: wrong reply again (and 1 more wrong reply in 60 s)"),
    ]


def test_a_kind_quiet_for_an_interval_is_news_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, LOG)
    clock = Clock()
    errors = ErrorLog(logging.getLogger(LOG), interval=10.0, clock=clock)
    errors.report("plc1", "connect", "plc1: cannot connect to 10.0.0.1:502")
    clock.now += 10.0
    errors.flush()  # nothing more happened: forgotten, no summary
    clock.now += 30.0
    errors.report("plc1", "connect", "plc1: cannot connect to 10.0.0.1:502")
    errors.report("plc1", "exception", "plc1: exception 2 (illegal data address) for hr:9+1")
    assert lines(caplog) == [
        ("ERROR", "plc1: cannot connect to 10.0.0.1:502"),
        ("ERROR", "plc1: cannot connect to 10.0.0.1:502"),
        # a refusal is the device's answer: a warning, not an error of communication
        ("WARNING", "plc1: exception 2 (illegal data address) for hr:9+1"),
    ]


def test_a_device_that_left_is_forgotten(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, LOG)
    clock = Clock()
    errors = ErrorLog(logging.getLogger(LOG), interval=10.0, clock=clock)
    errors.report("plc1", "timeout", "plc1: no answer")
    errors.report("plc1", "timeout", "plc1: no answer")
    errors.forget("plc1")
    clock.now += 20.0
    errors.flush()
    assert lines(caplog) == [("ERROR", "plc1: no answer")]


def test_a_failure_of_a_line_shared_by_several_devices_is_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An RTU line that cannot connect fails all its units at once with one message
    (naming them all): it was logged once per unit, identical lines."""
    caplog.set_level(logging.DEBUG, LOG)
    clock = Clock()
    errors = ErrorLog(logging.getLogger(LOG), interval=60.0, clock=clock)
    message = "u1, u2, u3: cannot connect to tcp://127.0.0.1:25022"
    for unit in ("u1", "u2", "u3"):
        errors.report(unit, "connect", message)
    errors.report("u2", "timeout", "u2: no answer to hr:0+10 (timeout 0.5 s)")  # its own
    assert lines(caplog) == [
        ("ERROR", message),
        ("ERROR", "u2: no answer to hr:0+10 (timeout 0.5 s)"),
    ]
    clock.now += 61.0  # a new interval: news again
    errors.flush()
    caplog.clear()
    errors.report("u1", "connect", message)
    assert lines(caplog) == [("ERROR", message)]
