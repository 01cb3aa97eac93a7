"""Device communication health: ``communicating`` in the device status, published at once.

The status interval is set to a minute, so every status these tests see was published
because ``connected`` or ``communicating`` changed, not by the periodic timer.
"""

from __future__ import annotations

import asyncio
import time

from hmi.core.quality import Severity
from hmi.drivers.manager import DriverManager
from hmi.drivers.status import DeviceStatus
from hmi.testing import RunningPlant
from tests.drivers.helpers import RecordingSink, device, free_port, tag
from tests.drivers.hostile import hostile

PERIOD = 0.05
#: no periodic status during a test: what arrives was published on a change
QUIET = 60.0


def status(sink: RecordingSink, name: str = "plc") -> DeviceStatus | None:
    """The device's latest status, if any."""
    return sink.statuses.get(name)


def communicating(sink: RecordingSink, value: bool, name: str = "plc") -> bool:
    """True when the device's latest status says ``communicating is value``."""
    latest = status(sink, name)
    return latest is not None and latest.communicating is value


def test_a_plc_that_stops_answering_is_reported_within_a_timeout(plant: RunningPlant) -> None:
    """The simulated plant's comm loss: TCP stays open, the unit no longer answers."""
    timeout = 0.2

    async def main() -> None:
        sink = RecordingSink()
        manager = DriverManager(sink, {"fast": PERIOD}, status_interval=QUIET)
        config = device("plc", plant.port, timeout=timeout, retries=0, unit_id=1)
        manager.add_device(config, [tag("p/t/level_mm", "plc", "ir:20")])
        await manager.start()
        try:
            await sink.wait(lambda: communicating(sink, True))
            assert sink.severity("p/t/level_mm") is Severity.GOOD

            plant.faults().comm_loss()
            silent = time.monotonic()
            seen = len(sink.status_log)
            noticed = await sink.wait(lambda: communicating(sink, False))
            assert noticed - silent <= timeout + PERIOD + 0.5, noticed - silent
            # the first status of the outage: the connection is still open, the unit is
            # silent, and the error is this outage's
            first = next(s for _, s in sink.status_log[seen:] if not s.communicating)
            assert first.connected is True, first
            assert first.last_error, first
            assert first.errors.get("timeout", 0) >= 1, first

            plant.faults().clear("comm_loss")
            back = time.monotonic()
            answered = await sink.wait(lambda: communicating(sink, True))
            assert answered - back <= 1.0, answered - back
            latest = status(sink)
            assert latest is not None and latest.connected is True
            assert latest.last_error == ""  # the outage is over
            await sink.wait(lambda: sink.severity("p/t/level_mm") is Severity.GOOD)
        finally:
            await manager.stop()

    asyncio.run(main())


def test_a_new_outage_is_not_described_by_the_previous_ones_error() -> None:
    """Outage 1 (the device is gone), back, then outage 2 (connected, but silent).

    The device's timeout is long against its period, so the watchdog degrades its tags
    while the request of the second outage is still in flight, before that outage has
    an error of its own: the tags must not carry the first outage's error.
    """
    timeout = 0.3

    async def main() -> None:
        sink = RecordingSink()
        port = free_port()
        manager = DriverManager(sink, {"fast": PERIOD}, status_interval=QUIET)
        config = device("plc", port, timeout=timeout, retries=1)
        manager.add_device(config, [tag("h/x/v", "plc", "hr:3")])
        async with hostile(port, "ok") as dev:
            await manager.start()
            try:
                await sink.wait(lambda: communicating(sink, True))

                await dev.stop()  # outage 1: the device is gone
                await sink.wait(lambda: communicating(sink, False))
                first = status(sink)
                assert first is not None and not first.connected and first.last_error
                first_error = first.last_error

                await dev.start(port)
                await sink.wait(lambda: communicating(sink, True), timeout=5.0)
                await sink.wait(lambda: sink.severity("h/x/v") is Severity.GOOD)
                latest = status(sink)
                assert latest is not None and latest.last_error == ""

                dev.mode = "silent"
                await sink.wait(lambda: sink.severity("h/x/v") is not Severity.GOOD)
                quality = sink.latest["h/x/v"].quality
                assert quality.detail == "plc: no answer", quality
                await sink.wait(lambda: communicating(sink, False))
                second = status(sink)
                assert second is not None and second.last_error, second
                assert second.last_error != first_error, second
                assert first_error not in sink.latest["h/x/v"].quality.detail
                # Once the request fails, its cause replaces "no answer" on the tag too
                # (issue 15: the watchdog's verdict came first and was never replaced).
                assert second.last_error == "plc: no answer to hr:3+1 (timeout 0.3 s, 2 tries)"
                await sink.wait(lambda: sink.latest["h/x/v"].quality.detail == second.last_error)
            finally:
                await manager.stop()

    asyncio.run(main())


def test_an_exception_answer_is_communication() -> None:
    """A device that refuses a read (Modbus exception) answers: it communicates. When it
    then falls silent, its tags do not blame the refusal."""

    async def main() -> None:
        sink = RecordingSink()
        port = free_port()
        manager = DriverManager(sink, {"fast": PERIOD}, status_interval=QUIET)
        tags = [tag("x/r/v", "plc", "hr:7"), tag("x/ok/v", "plc", "hr:30")]  # two reads
        manager.add_device(device("plc", port, timeout=0.3, retries=1), tags)
        async with hostile(port, "exception", refused={7}) as dev:
            await manager.start()
            try:
                await sink.wait(lambda: sink.severity("x/r/v") is Severity.BAD)
                await sink.wait(lambda: sink.severity("x/ok/v") is Severity.GOOD)
                latest = status(sink)
                assert latest is not None and latest.communicating, latest
                assert "illegal data address" in latest.last_error

                dev.mode = "silent"  # stale before its read times out (see the test above)
                await sink.wait(lambda: sink.severity("x/ok/v") is not Severity.GOOD)
                assert sink.latest["x/ok/v"].quality.detail == "plc: no answer"
                await sink.wait(lambda: communicating(sink, False))
            finally:
                await manager.stop()

    asyncio.run(main())


def test_a_closed_connection_is_reported_at_once() -> None:
    """The device goes away (its server stops): not connected, not communicating."""

    async def main() -> None:
        sink = RecordingSink()
        port = free_port()
        manager = DriverManager(sink, {"fast": PERIOD}, status_interval=QUIET)
        manager.add_device(device("plc", port), [tag("x/c/v", "plc", "hr:3")])
        async with hostile(port, "ok"):
            await manager.start()
            await sink.wait(lambda: communicating(sink, True))
        try:
            gone = time.monotonic()
            noticed = await sink.wait(lambda: communicating(sink, False))
            assert noticed - gone <= 1.0, noticed - gone
            latest = status(sink)
            assert latest is not None and latest.connected is False, latest
            assert latest.last_error, latest
        finally:
            await manager.stop()

    asyncio.run(main())
