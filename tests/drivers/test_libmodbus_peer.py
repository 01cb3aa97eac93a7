"""The driver against a server built on Debian's libmodbus (a peer we did not design)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.core.command import Command, CommandState
from hmi.core.quality import Severity
from hmi.core.tag import DataType
from hmi.drivers.manager import DriverManager
from tests.drivers.helpers import RecordingSink, device, free_port, tag
from tests.drivers.peers import build_libmodbus_server, start_server


@pytest.fixture(scope="module")
def libmodbus_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    exe = build_libmodbus_server(tmp_path_factory.mktemp("libmodbus"))
    if isinstance(exe, str):
        pytest.skip(exe)
    port = free_port()
    proc = start_server(Path(exe), port)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_polls_blocks_isolates_refused_addresses_and_writes(libmodbus_port: int) -> None:
    async def main() -> None:
        sink = RecordingSink()
        ops = frozenset({"operator"})
        tags = [tag(f"l/r{i}/v", "lm", f"hr:{i}") for i in range(0, 300, 3)]
        tags += [
            tag("l/f/v", "lm", "hr:9995", DataType.UINT32),
            tag("l/beyond/v", "lm", "hr:10001"),  # past the table: exception 2
            tag("l/c/v", "lm", "co:7", DataType.BOOL),
            tag("l/w/v", "lm", "hr:500", write_roles=ops),
            tag("l/i/v", "lm", "ir:42", DataType.INT16),
        ]
        manager = DriverManager(sink, {"fast": 0.05})
        manager.add_device(device("lm", libmodbus_port), tags)
        await manager.start()
        try:
            names = [t.name for t in tags]
            await sink.wait(lambda: all(n in sink.latest for n in names))
            assert sink.value("l/r297/v") == 297
            assert sink.value("l/f/v") == (9995 << 16) | 9996
            assert sink.value("l/c/v") is True
            assert sink.value("l/i/v") == 42
            beyond = sink.latest["l/beyond/v"].quality
            assert beyond.severity is Severity.BAD and "illegal data address" in beyond.detail
            good = [n for n in names if n != "l/beyond/v"]
            assert all(sink.severity(n) is Severity.GOOD for n in good)
            result = await manager.write(Command("w", "l/w/v", 1234, roles=ops))
            assert result.state is CommandState.CONFIRMED, result
            await sink.wait(lambda: sink.value("l/w/v") == 1234)
        finally:
            await manager.stop()

    asyncio.run(main())
