"""Changing a running device's tags: the tags it keeps stay GOOD, new ones start polling."""

from __future__ import annotations

import asyncio

from hmi.core.quality import Severity
from hmi.drivers.manager import DriverManager
from tests.drivers.helpers import RecordingSink, datastore, device, free_port, pymodbus_server, tag

PERIOD, TIMEOUT = 0.05, 0.2


def test_adding_a_tag_at_runtime_does_not_disturb_the_others() -> None:
    async def main() -> None:
        port = free_port()
        sink = RecordingSink()
        manager = DriverManager(sink, {"fast": PERIOD})
        manager.add_device(device("plc", port, timeout=TIMEOUT), [tag("a/b/v", "plc", "hr:3")])
        async with pymodbus_server(port, datastore(hr=list(range(200)))):
            await manager.start()
            try:
                await sink.wait(lambda: sink.severity("a/b/v") is Severity.GOOD)
                # long enough that the line's start is older than the staleness bound
                await asyncio.sleep(3 * PERIOD + TIMEOUT)
                mark = len(sink.batches)
                manager.set_tags([tag("a/b/w", "plc", "hr:40")])
                await sink.wait(lambda: sink.severity("a/b/w") is Severity.GOOD)
                assert sink.value("a/b/w") == 40
                await asyncio.sleep(2 * PERIOD + TIMEOUT)
                after = [b["a/b/v"] for _, b in sink.batches[mark:] if "a/b/v" in b]
                assert all(s.quality.severity is Severity.GOOD for s in after), after
                assert sink.severity("a/b/v") is Severity.GOOD
            finally:
                await manager.stop()

    asyncio.run(main())
