"""Kill a device and bring it back: UNCERTAIN then BAD within 2 periods + timeout, GOOD
again within 1 s of its return; removing a device stops polling and marks tags BAD."""

from __future__ import annotations

import asyncio
import time

from hmi.core.quality import Reason, Severity
from hmi.drivers.manager import DriverManager
from tests.drivers.helpers import RecordingSink, datastore, device, free_port, pymodbus_server, tag

PERIOD, TIMEOUT = 0.1, 0.2
BOUND = 2 * PERIOD + TIMEOUT


def test_device_dies_and_returns() -> None:
    async def main() -> None:
        port = free_port()
        sink = RecordingSink()
        seen: list[Severity] = []
        manager = DriverManager(sink, {"fast": PERIOD})
        manager.add_device(
            device("plc", port, timeout=TIMEOUT, reconnect_max=0.3), [tag("a/b/v", "plc", "hr:3")]
        )
        async with pymodbus_server(port, datastore(hr=list(range(200)))):
            await manager.start()
            await sink.wait(lambda: sink.severity("a/b/v") is Severity.GOOD)
            killed = time.monotonic()
        try:

            def record() -> bool:
                sev = sink.severity("a/b/v")
                if sev is not None and (not seen or seen[-1] is not sev):
                    seen.append(sev)
                return sev is Severity.BAD

            bad_at = await sink.wait(record, timeout=BOUND + 1)
            assert bad_at - killed <= BOUND + 0.1, bad_at - killed
            assert seen[-2:] == [Severity.UNCERTAIN, Severity.BAD], seen
            assert sink.value("a/b/v") == 3  # the last value is kept
            assert sink.statuses["plc"].connected is False
            assert sink.statuses["plc"].communicating is False
            await asyncio.sleep(0.5)  # stay down a while: backoff grows to its cap
            async with pymodbus_server(port, datastore(hr=list(range(200)))):
                back = time.monotonic()
                good_at = await sink.wait(lambda: sink.severity("a/b/v") is Severity.GOOD)
                assert good_at - back <= 1.0, good_at - back
                await sink.wait(lambda: sink.statuses["plc"].communicating)

                await manager.remove_device("plc")
                assert sink.latest["a/b/v"].quality.reason is Reason.OUT_OF_SERVICE
                count = len(sink.batches)
                await asyncio.sleep(3 * PERIOD)
                assert len(sink.batches) == count  # nothing polled any more
        finally:
            await manager.stop()

    asyncio.run(main())
