"""A write waits for one read of a scan, not for the whole scan (issue 17, write round trip).

The line used to run queued writes only between two scans: a write that arrived as a
scan of many blocks began waited for all of them. It now goes before the scan's next
read. What that scan read of the written point before the write is older than the
write's read-back, so it is not published after it: the screens keep the device's value
as read back, and the next scan decodes that block afresh.
"""

from __future__ import annotations

import asyncio

from hmi.core.address import Table
from hmi.core.command import Command, CommandState
from hmi.drivers.line import Line
from hmi.drivers.writes import plan_write
from hmi.project.model import DeviceConfig
from tests.drivers.helpers import RecordingSink, device, tag

#: four blocks in one poll group (gaps wider than the 16 registers planning merges)
TAGS = [
    tag(f"s/p/v{i}", "plc", f"hr:{40 * i}", write_roles=frozenset({"operator"})) for i in range(4)
]
WRITTEN = TAGS[0]


class SlowLink:
    """Registers in memory; every read takes ``delay`` s; the log says what was asked."""

    def __init__(self, config: DeviceConfig, delay: float = 0.05) -> None:
        self.connected = False
        self.delay = delay
        self.registers = [1] * 200
        self.log: list[str] = []
        self.reading = asyncio.Event()

    def name_units(self, units: object) -> None:
        pass

    async def connect(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.connected = False

    async def read(self, unit: int, table: Table, start: int, count: int) -> list[int]:
        self.log.append(f"read {start}")
        self.reading.set()
        data = self.registers[start : start + count]  # what the device held when asked
        await asyncio.sleep(self.delay)
        return data

    async def write_register(self, unit: int, address: int, value: int) -> None:
        self.log.append(f"write {address}")
        self.registers[address] = value


def test_a_write_goes_before_the_next_read_of_a_scan_and_its_stale_value_is_dropped() -> None:
    async def main() -> None:
        links: list[SlowLink] = []

        def open_link(config: DeviceConfig) -> SlowLink:
            links.append(SlowLink(config))
            return links[-1]

        sink = RecordingSink()
        line = Line("tcp:plc", sink, {"fast": 0.5}, link_factory=open_link)  # type: ignore[arg-type]
        line.set_device(device("plc", 1), TAGS)
        task = asyncio.create_task(line.run())
        try:
            await sink.wait(lambda: all(t.name in sink.latest for t in TAGS))
            (link,) = links
            link.registers[0] = 5  # changed: the second scan decodes it (before the write)
            # The second scan: its first read (of the written point's block) is in flight.
            link.log.clear()
            link.reading.clear()
            await asyncio.wait_for(link.reading.wait(), 2)
            assert link.log == ["read 0"]
            command = Command("c1", WRITTEN.name, 42, user="u", roles=frozenset({"operator"}))
            plan = plan_write(command, WRITTEN)
            result = await asyncio.wait_for(line.submit("plc", plan, command, 2.0), 2)
            assert result.state is CommandState.CONFIRMED, result
            # written right after the read in flight, and read back, before the next block
            assert link.log[:4] == ["read 0", "write 0", "read 0", "read 40"], link.log
            # the scan ends; what it read of the point before the write (5) is not published
            await sink.wait(lambda: link.log.count("read 120") >= 1)
            await asyncio.sleep(0.1)
            assert sink.value(WRITTEN.name) == 42
            published = [b[WRITTEN.name].value for _, b in sink.batches if WRITTEN.name in b]
            assert published[-1] == 42, published
            # The device puts back what the stale read saw: the next scan must show it, so
            # the block is decoded afresh, though its answer equals the one dropped.
            link.registers[0] = 5
            await sink.wait(lambda: sink.value(WRITTEN.name) == 5)
        finally:
            line.stop()
            await asyncio.wait_for(task, 2)

    asyncio.run(main())
