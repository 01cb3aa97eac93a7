"""Every reply checked against its request (issue 15, item 5).

A hostile Modbus/TCP device answers well framed replies that are not the answer to the
request: another function code, a wrong byte count, an undecodable frame, another
transaction id or unit. None of them may be published as GOOD data; each is BAD at once
with the device's name and what was wrong, counted as a ``response`` error, and written
to the log once per interval, without a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from hmi.core.quality import Reason, Severity
from hmi.drivers.manager import DriverManager
from tests.drivers.helpers import RecordingSink, device, free_port, tag
from tests.drivers.hostile import hostile

GROUPS = {"fast": 0.05}
QUIET = 60.0  # no periodic status: what arrives was published on a change
BUSY = 0.1  # a status every 0.1 s: counters are seen as they grow

#: mode -> the end of the tags' quality detail (a read of hr:3..5, FC 3)
WRONG_REPLIES = {
    "wrong_function": "wrong reply to hr:3+3: function code 4, expected 3",
    "wrong_count": "wrong reply to hr:3+3: byte count 4 with 4 data bytes, expected 6",
    "wrong_byte_count": "wrong reply to hr:3+3: byte count 4 with 6 data bytes, expected 6",
    "long_byte_count": "wrong reply to hr:3+3: cannot be decoded (byte count 8 with 6 data bytes)",
    "unknown_function": "wrong reply to hr:3+3: unknown function code 65",
    "wrong_exception": (
        "wrong reply to hr:3+3: an exception for function code 4, expected function code 3"
    ),
    "tid_zero": "wrong reply to hr:3+3: transaction id 0",
    "wrong_tid": "wrong reply to hr:3+3: transaction id",
    "wrong_unit": "wrong reply to hr:3+3: from unit 2",
}


@pytest.fixture
def pymodbus_logs() -> Iterator[None]:
    """pymodbus' logger as an application leaves it (tests/drivers/helpers quiets it)."""
    logger = logging.getLogger("pymodbus")
    level = logger.level
    logger.setLevel(logging.NOTSET)
    try:
        yield
    finally:
        logger.setLevel(level)


def tags_of(name: str) -> list:  # type: ignore[type-arg]
    return [tag(f"h/{name}/a", name, "hr:3"), tag(f"h/{name}/b", name, "hr:5")]


@pytest.mark.parametrize("mode", list(WRONG_REPLIES))
def test_a_wrong_reply_is_bad_at_once_never_good_and_counted(mode: str) -> None:
    async def main() -> None:
        sink = RecordingSink()
        port = free_port()
        manager = DriverManager(sink, GROUPS, status_interval=QUIET)
        manager.add_device(device("plc", port, timeout=0.2), tags_of("plc"))
        async with hostile(port, mode):
            await manager.start()
            try:
                names = ["h/plc/a", "h/plc/b"]
                await sink.wait(lambda: all(sink.severity(n) is Severity.BAD for n in names))
                await sink.wait(lambda: sink.statuses.get("plc") is not None)
                status = sink.statuses["plc"]
                for name in names:
                    quality = sink.latest[name].quality
                    assert quality.detail.startswith("plc: "), quality
                    assert WRONG_REPLIES[mode] in quality.detail, quality
                    assert quality.reason is Reason.DEVICE_FAILURE, quality
                assert status.errors.get("response", 0) >= 1, status
                assert not status.communicating and WRONG_REPLIES[mode] in status.last_error
                # never published as data: not one GOOD sample of these tags
                good = [
                    (n, s)
                    for _, batch in sink.batches
                    for n, s in batch.items()
                    if s.quality.severity is Severity.GOOD
                ]
                assert good == []
            finally:
                await manager.stop()

    asyncio.run(main())


def test_a_decodable_wrong_reply_keeps_the_connection() -> None:
    """A wrong reply costs its block, not the connection (pymodbus' failing decoder made
    asyncio drop it, and the next requests waited for a reconnect)."""

    async def main() -> None:
        sink = RecordingSink()
        port = free_port()
        manager = DriverManager(sink, GROUPS, status_interval=BUSY)
        manager.add_device(device("plc", port, timeout=0.2), tags_of("plc"))
        async with hostile(port, "long_byte_count") as dev:
            await manager.start()
            try:
                await sink.wait(lambda: sink.statuses.get("plc") is not None)
                await sink.wait(lambda: sink.statuses["plc"].errors.get("response", 0) >= 5)
                status = sink.statuses["plc"]
                assert status.connected and "connection" not in status.errors, status
                assert dev.requests >= 5
            finally:
                await manager.stop()

    asyncio.run(main())


def test_a_good_block_does_not_hide_a_wrong_one() -> None:
    """One block always answered wrongly (hr, FC 3), the next one right (ir, FC 4): the
    device ends every scan not communicating, however its blocks are ordered (its
    status flipped to communicating with the good block that came last)."""

    async def main() -> None:
        sink = RecordingSink()
        port = free_port()
        manager = DriverManager(sink, GROUPS, status_interval=QUIET)
        tags = [*tags_of("plc"), tag("h/plc/input", "plc", "ir:7")]
        manager.add_device(device("plc", port, timeout=0.2), tags)
        async with hostile(port, "wrong_function"):
            await manager.start()
            try:
                await sink.wait(lambda: sink.severity("h/plc/a") is Severity.BAD)
                await sink.wait(lambda: sink.severity("h/plc/input") is Severity.GOOD)
                await asyncio.sleep(0.5)  # ten scans
                assert sink.value("h/plc/input") == 7
                flips = [s.communicating for _, s in sink.status_log]
                assert True not in flips, flips
            finally:
                await manager.stop()

    asyncio.run(main())


def test_wrong_replies_are_one_log_line_per_device_and_kind_without_a_traceback(
    caplog: pytest.LogCaptureFixture, pymodbus_logs: None
) -> None:
    """Before: a traceback (asyncio's "Fatal error: protocol.data_received() call
    failed") and pymodbus' "No response received ..." per reply."""
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        sink = RecordingSink()
        manager = DriverManager(sink, GROUPS, status_interval=BUSY)
        p1, p2 = free_port(), free_port()
        async with hostile(p1, "long_byte_count"), hostile(p2, "wrong_function"):
            manager.add_device(device("one", p1, timeout=0.2), tags_of("one"))
            manager.add_device(device("two", p2, timeout=0.2), tags_of("two"))
            await manager.start()
            try:
                await sink.wait(lambda: {"one", "two"} <= sink.statuses.keys())
                await sink.wait(
                    lambda: all(
                        sink.statuses[d].errors.get("response", 0) >= 10 for d in ("one", "two")
                    )
                )
            finally:
                await manager.stop()

    asyncio.run(main())
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r for r in records if r.exc_info or r.name.startswith(("asyncio", "pymodbus"))] == []
    lines = sorted(r.getMessage() for r in records)
    assert lines == [
        "one: wrong reply to hr:3+3: cannot be decoded (byte count 8 with 6 data bytes)",
        "two: wrong reply to hr:3+3: function code 4, expected 3",
    ]


def test_a_silent_device_is_named_in_plain_words(
    caplog: pytest.LogCaptureFixture, pymodbus_logs: None
) -> None:
    """What reaches an operator station's status bar (every ERROR line): the device's
    name and plain words, never pymodbus' "No response received after 0 retries, ..."."""
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        sink = RecordingSink()
        port = free_port()
        manager = DriverManager(sink, GROUPS, status_interval=QUIET)
        manager.add_device(device("plc1", port, timeout=0.2, retries=1), tags_of("plc1"))
        async with hostile(port, "silent"):
            await manager.start()
            try:
                await sink.wait(lambda: sink.statuses.get("plc1") is not None)
                await sink.wait(lambda: bool(sink.statuses["plc1"].last_error))
                status = sink.statuses["plc1"]
                assert status.last_error == "plc1: no answer to hr:3+3 (timeout 0.2 s, 2 tries)"
                # pymodbus gives up on the connection after a few timeouts in a row
                await sink.wait(lambda: not sink.statuses["plc1"].connected)
            finally:
                await manager.stop()

    asyncio.run(main())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        "plc1: no answer to hr:3+3 (timeout 0.2 s, 2 tries)",
        "plc1: no answer to several requests in a row; disconnected",
    ]


def test_a_late_answer_says_so() -> None:
    """A device answering after the timeout: its answers arrive during later requests
    (pymodbus skips them by transaction id) and are named as late, not as silence."""

    async def main() -> None:
        sink = RecordingSink()
        port = free_port()
        manager = DriverManager(sink, GROUPS, status_interval=QUIET)
        manager.add_device(device("plc", port, timeout=0.15), tags_of("plc"))
        async with hostile(port, "slow", delay=0.25):
            await manager.start()
            try:
                await sink.wait(
                    lambda: (
                        "answers too late" in getattr(sink.statuses.get("plc"), "last_error", "")
                    )
                )
                assert (
                    sink.statuses["plc"].last_error
                    == "plc: answers too late (hr:3+3: timeout 0.15 s)"
                )
            finally:
                await manager.stop()

    asyncio.run(main())
