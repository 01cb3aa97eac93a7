"""A line task ends when cancelled, even when the device's answer arrives at that moment.

pymodbus waits for an answer with ``asyncio.wait_for``; on Python 3.11 that swallows a
cancellation which arrives in the same loop iteration as the answer. A line that did not
notice would poll on forever and hang the shutdown of its node.
"""

from __future__ import annotations

import asyncio

from hmi.core.address import Table
from hmi.drivers.line import Line
from hmi.project.model import DeviceConfig
from tests.drivers.helpers import RecordingSink, device, tag


class AnswerOnCancelLink:
    """A link that waits for answers the way pymodbus does; the test answers by hand."""

    def __init__(self, config: DeviceConfig) -> None:
        self.connected = False
        self.answer: asyncio.Future[list[int]] | None = None
        self.asked = asyncio.Event()

    def name_units(self, units: object) -> None:
        pass

    async def connect(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.connected = False

    async def read(self, unit: int, table: Table, start: int, count: int) -> list[int]:
        self.answer = asyncio.get_running_loop().create_future()
        self.asked.set()
        return await asyncio.wait_for(self.answer, 5.0)


def test_cancel_arriving_with_the_answer_still_ends_the_line() -> None:
    async def main() -> None:
        links: list[AnswerOnCancelLink] = []

        def open_link(config: DeviceConfig) -> AnswerOnCancelLink:
            links.append(AnswerOnCancelLink(config))
            return links[-1]

        line = Line("tcp:plc", RecordingSink(), {"fast": 0.01}, link_factory=open_link)  # type: ignore[arg-type]
        line.set_device(device("plc", 1), [tag("a/b/c", "plc", "hr:0")])
        task = asyncio.create_task(line.run())
        while not links:
            await asyncio.sleep(0)
        (link,) = links
        await asyncio.wait_for(link.asked.wait(), 2)
        assert link.answer is not None
        link.answer.set_result([7])  # the answer and the cancel in one loop iteration
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2)
        assert task in done, "the cancelled line kept polling"
        assert task.cancelled()
        assert not link.connected  # and it closed its connection

    asyncio.run(main())
