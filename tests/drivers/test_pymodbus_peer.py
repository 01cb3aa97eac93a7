"""The driver against pymodbus' own server: polling, decoding, closed-loop writes."""

from __future__ import annotations

import asyncio
import struct

from hmi.core.command import Command, CommandState
from hmi.core.quality import Severity
from hmi.core.tag import DataType, Limits, Scaling
from hmi.drivers.manager import DriverManager
from tests.drivers.helpers import (
    RecordingSink,
    datastore,
    device,
    free_port,
    pymodbus_server,
    tag,
)

GROUPS = {"fast": 0.05, "normal": 0.2}
OPS = frozenset({"operator"})


def f32(value: float) -> list[int]:
    raw = struct.pack(">f", value)
    return [int.from_bytes(raw[0:2], "big"), int.from_bytes(raw[2:4], "big")]


def test_polls_decodes_and_writes_with_read_back() -> None:
    async def main() -> None:
        port = free_port()
        hr = [0] * 200
        hr[0:2] = f32(3.25)
        hr[10] = 2500
        hr[20] = 0b100
        context = datastore(hr=hr, co=[True] + [False] * 63)
        sink = RecordingSink()
        tags = [
            tag("a/t/level", "plc", "hr:0", DataType.FLOAT32),
            tag(
                "a/v/cmd",
                "plc",
                "hr:10",
                scaling=Scaling(0, 10000, 0, 100),
                limits=Limits(0, 100),
                write_roles=OPS,
            ),
            tag("a/v/bit", "plc", "hr:20.2", DataType.BOOL, write_roles=OPS),
            tag("a/p/run", "plc", "co:0", DataType.BOOL, group="normal", write_roles=OPS),
        ]
        async with pymodbus_server(port, context):
            manager = DriverManager(sink, GROUPS)
            manager.add_device(device("plc", port), tags)
            await manager.start()
            try:
                await sink.wait(lambda: all(sink.severity(t.name) is Severity.GOOD for t in tags))
                assert sink.value("a/t/level") == 3.25
                assert sink.value("a/v/cmd") == 25.0
                assert sink.value("a/v/bit") is True
                assert sink.value("a/p/run") is True

                result = await manager.write(Command("1", "a/v/cmd", 42.5, roles=OPS))
                assert result.state is CommandState.CONFIRMED, result
                assert result.value == 42.5
                assert context.getValues(3, 10, 1) == [4250]  # the register on the device

                result = await manager.write(Command("2", "a/v/bit", False, roles=OPS))
                assert result.state is CommandState.CONFIRMED, result
                assert context.getValues(3, 20, 1) == [0]

                result = await manager.write(Command("3", "a/p/run", False, roles=OPS))
                assert result.state is CommandState.CONFIRMED, result
                assert context.getValues(1, 0, 1) == [False]

                result = await manager.write(Command("4", "a/v/cmd", 150, roles=OPS))
                assert result.state is CommandState.REJECTED
                assert "limits" in result.message
                viewer = frozenset({"viewer"})
                result = await manager.write(Command("5", "a/v/cmd", 10, roles=viewer))
                assert result.state is CommandState.REJECTED
                assert "may not write" in result.message
                result = await manager.write(Command("6", "a/t/level", 1.0, roles=OPS))
                assert result.state is CommandState.REJECTED  # no write roles: read-only

                # the poll picks up a change made on the device
                context.setValues(3, 0, f32(-1.5))
                await sink.wait(lambda: sink.value("a/t/level") == -1.5)
            finally:
                await manager.stop()

    asyncio.run(main())
