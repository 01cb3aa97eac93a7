"""Modbus driver throughput and cycle time against a server in another process.

Baselines are measured in the same run against the same server: raw pymodbus sequential
125-register reads (one client; then ten clients concurrently) versus our driver polling
as fast as allowed (one device; ten devices). Then 1,000 tags over 10 devices in a 100 ms
poll group: the p99 of the interval between consecutive scans of a device.

The server is the libmodbus one of tests/drivers/peers (compiled here), or pymodbus' own
server in a subprocess when gcc/libmodbus are missing. Prints one JSON line last.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymodbus.client import AsyncModbusTcpClient  # noqa: E402

from hmi.core.address import ModbusAddress  # noqa: E402
from hmi.core.tag import DataType, Source, Tag  # noqa: E402
from hmi.drivers.manager import DriverManager  # noqa: E402
from hmi.project.model import DeviceConfig  # noqa: E402
from tests.drivers.peers import build_libmodbus_server, start_server  # noqa: E402

PHASE = 2.5  # seconds per measurement
ROUNDS = 3  # raw and hmi alternate; the best round of each counts (shared CPUs)

PYMODBUS_SERVER = """
import asyncio, sys
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import ModbusTcpServer
async def main():
    block = ModbusSequentialDataBlock(1, list(range(10000)))
    ctx = ModbusServerContext(devices=ModbusDeviceContext(hr=block), single=True)
    server = ModbusTcpServer(ctx, address=("127.0.0.1", int(sys.argv[1])))
    await server.serve_forever(background=True)
    print("READY", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


class NullSink:
    """Counts what the driver delivers (the bus is not what is measured here)."""

    def __init__(self) -> None:
        self.batches = 0

    def samples(self, batch: Any) -> None:
        self.batches += 1

    def status(self, status: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tmp: Path) -> tuple[subprocess.Popen[str], int, str]:
    port = free_port()
    exe = build_libmodbus_server(tmp)
    if isinstance(exe, Path):
        return start_server(exe, port), port, "libmodbus"
    proc = subprocess.Popen(
        [sys.executable, "-c", PYMODBUS_SERVER, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    return proc, port, "pymodbus"


async def raw_reads(port: int, clients: int) -> float:
    """Sequential 125-register reads per client, all clients concurrently: reads/s."""
    conns = [
        AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0) for _ in range(clients)
    ]
    for c in conns:
        await c.connect()
    count = 0
    deadline = time.perf_counter() + PHASE

    async def loop(client: AsyncModbusTcpClient) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            rr = await client.read_holding_registers(0, count=125, device_id=1)
            assert len(rr.registers) == 125
            count += 1

    start_t = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in conns))
    elapsed = time.perf_counter() - start_t
    for c in conns:
        c.close()
    return count / elapsed


def device_tags(dev: str, count: int, group: str) -> list[Tag]:
    """``count`` tags on one device: uint16 and float32 mixed, packed from hr:0."""
    tags, offset = [], 0
    for i in range(count):
        data_type = DataType.FLOAT32 if i % 4 == 3 else DataType.UINT16
        address = ModbusAddress.parse(f"hr:{offset}")
        tags.append(Tag(f"{dev}/p{i}/v", data_type, source=Source(dev, address, group)))
        offset += data_type.register_count
    return tags


async def hmi_reads(port: int, devices: int) -> float:
    """Our driver polling ``devices`` devices (125 registers each) as fast as allowed."""
    scans = 0

    def on_scan(dev: str, group: str, start_t: float, end: float) -> None:
        nonlocal scans
        scans += 1

    manager = DriverManager(NullSink(), {"max": 1e-6}, on_scan=on_scan)
    for d in range(devices):
        name = f"d{d}"
        tags = [
            Tag(
                f"{name}/r{i}/v",
                DataType.UINT16,
                source=Source(name, ModbusAddress.parse(f"hr:{i}"), "max"),
            )
            for i in range(125)
        ]
        manager.add_device(DeviceConfig(name, port=port, timeout=1.0, retries=0), tags)
    await manager.start()
    while scans < devices:  # connected and polling
        await asyncio.sleep(0.01)
    first, start_t = scans, time.perf_counter()
    await asyncio.sleep(PHASE)
    rate = (scans - first) / (time.perf_counter() - start_t)
    await manager.stop()
    return rate


async def cycle_p99(port: int) -> tuple[float, int]:
    """1,000 tags over 10 devices in a 100 ms group: p99 scan interval (ms), blocks/scan."""
    starts: dict[str, list[float]] = {}

    def on_scan(dev: str, group: str, start_t: float, end: float) -> None:
        starts.setdefault(dev, []).append(start_t)

    manager = DriverManager(NullSink(), {"fast": 0.1}, on_scan=on_scan)
    for d in range(10):
        name = f"c{d}"
        manager.add_device(
            DeviceConfig(name, port=port, timeout=1.0, retries=0), device_tags(name, 100, "fast")
        )
    await manager.start()
    await asyncio.sleep(0.5)  # connect and settle
    starts.clear()
    await asyncio.sleep(2 * PHASE)
    await manager.stop()
    gaps = [b - a for s in starts.values() for a, b in itertools.pairwise(s)]
    gaps.sort()
    return 1000 * gaps[int(0.99 * (len(gaps) - 1))], len(gaps)


async def main() -> dict[str, Any]:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, server = start(Path(tmp))
        try:
            raw1, hmi1, raw10, hmi10 = [], [], [], []
            for _ in range(ROUNDS):
                raw1.append(await raw_reads(port, 1))
                hmi1.append(await hmi_reads(port, 1))
                raw10.append(await raw_reads(port, 10))
                hmi10.append(await hmi_reads(port, 10))
            p99, intervals = await cycle_p99(port)
        finally:
            proc.terminate()
            proc.wait(timeout=5)
    for name, values in (("raw_1", raw1), ("hmi_1", hmi1), ("raw_10", raw10), ("hmi_10", hmi10)):
        print(f"{name}: " + ", ".join(f"{v:.0f}/s" for v in values), file=sys.stderr)
    return {
        "bench": "modbus",
        "server": server,
        "raw_reads_per_s": round(max(raw1)),
        "hmi_reads_per_s": round(max(hmi1)),
        "ratio": round(max(hmi1) / max(raw1), 3),
        "raw_reads_per_s_10": round(max(raw10)),
        "hmi_reads_per_s_10": round(max(hmi10)),
        "ratio_10": round(max(hmi10) / max(raw10), 3),
        "cycle_ms_p99": round(p99, 2),
        "cycle_intervals": intervals,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
