"""A line whose task ends by a bug (a line handles every device failure itself) does not
leave its tags as they were with nothing said: the error is logged with its traceback and
every tag of the line turns BAD ``device failure``, naming the error."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hmi.core.quality import Reason, Severity
from hmi.drivers.manager import DriverManager
from hmi.project.model import DeviceConfig
from tests.drivers.helpers import RecordingSink, device, tag


def broken_link(config: DeviceConfig) -> object:
    raise RuntimeError("a bug in the link")


@pytest.mark.timeout(30)
def test_a_line_that_dies_turns_its_tags_bad_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, "hmi.drivers.manager")

    async def main() -> None:
        sink = RecordingSink()
        manager = DriverManager(sink, {"fast": 0.1}, link_factory=broken_link)
        manager.add_device(device("plc", 1), [tag("a/b/c", "plc", "hr:0")])
        await manager.start()
        try:
            await sink.wait(lambda: sink.severity("a/b/c") is Severity.BAD)
        finally:
            await manager.stop()
        quality = sink.latest["a/b/c"].quality
        assert quality.reason is Reason.DEVICE_FAILURE
        assert quality.detail == "driver error: a bug in the link"

    asyncio.run(main())
    [record] = [r for r in caplog.records if r.name == "hmi.drivers.manager"]
    assert "a bug in the link" in record.getMessage() and record.exc_info is not None
