"""Hostile devices: wrong answers give BAD tags with a reason and counted errors, never a
crash, and never delay a healthy device on another line."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

from hmi.core.quality import Reason, Severity
from hmi.drivers.manager import DriverManager
from tests.drivers.helpers import RecordingSink, device, free_port, tag
from tests.drivers.hostile import hostile

PERIOD = 0.05
TIMEOUT = 0.2
GROUPS = {"fast": PERIOD}
MODES = ["wrong_count", "wrong_tid", "wrong_unit", "garbage", "slow", "silent", "close"]


def test_hostile_devices_go_bad_and_healthy_one_keeps_its_period() -> None:
    async def main() -> None:
        sink = RecordingSink()
        scans: dict[str, list[float]] = {}

        def on_scan(dev: str, group: str, start: float, end: float) -> None:
            scans.setdefault(dev, []).append(start)

        manager = DriverManager(sink, GROUPS, on_scan=on_scan)
        async with contextlib.AsyncExitStack() as stack:
            for mode in ["ok", *MODES]:
                port = free_port()
                await stack.enter_async_context(hostile(port, mode, delay=1.0))
                manager.add_device(
                    device(mode, port, timeout=TIMEOUT),
                    [
                        tag(f"h/{mode}/a", mode, "hr:3"),
                        tag(f"h/{mode}/b", mode, "hr:5"),
                    ],
                )
            await manager.start()
            try:
                # first good values from the healthy device
                await sink.wait(lambda: sink.severity("h/ok/a") is Severity.GOOD)
                assert sink.value("h/ok/a") == 3
                # every hostile device's tags go BAD with a reason, within the bound
                bad = [f"h/{m}/{x}" for m in MODES for x in "ab"]
                await sink.wait(
                    lambda: all(sink.severity(n) is Severity.BAD for n in bad),
                    timeout=2 * PERIOD + TIMEOUT + 1.0,
                )
                steady = time.monotonic()
                for name in bad:
                    quality = sink.latest[name].quality
                    assert quality.reason is not Reason.NONE and quality.detail, (name, quality)
                # errors are counted per device and shown in the status
                await sink.wait(lambda: all(m in sink.statuses for m in MODES))
                await asyncio.sleep(1.1)  # one status interval
                for mode in MODES:
                    status = sink.statuses[mode]
                    assert sum(status.errors.values()) > 0, status
                    assert status.last_error, status
                assert sink.statuses["ok"].errors == {}
                # the healthy device kept polling on time while the others failed
                starts = [t for t in scans["ok"] if t > steady]
                gaps = sorted(b - a for a, b in itertools.pairwise(starts))
                assert len(starts) > 15
                assert gaps[len(gaps) // 2] < PERIOD * 1.2, gaps  # median: on period
                assert gaps[-1] < PERIOD + 0.1, gaps  # worst: 2 shared CPUs, 9 lines
                assert sink.severity("h/ok/a") is Severity.GOOD
            finally:
                await manager.stop()

    asyncio.run(main())


def test_refused_address_is_isolated_and_the_rest_stay_good() -> None:
    async def main() -> None:
        sink = RecordingSink()
        port = free_port()
        tags = [tag(f"x/r{i}/v", "dev", f"hr:{i}") for i in range(40)]
        manager = DriverManager(sink, GROUPS)
        async with hostile(port, "exception", refused={17}) as dev:
            manager.add_device(device("dev", port), tags)
            await manager.start()
            try:
                await sink.wait(lambda: len(sink.latest) == 40)
                bad = sink.latest["x/r17/v"].quality
                assert bad.severity is Severity.BAD
                assert "illegal data address" in bad.detail
                good = [n for n in sink.latest if n != "x/r17/v"]
                assert all(sink.severity(n) is Severity.GOOD for n in good)
                assert sink.value("x/r39/v") == 39
                # the split is remembered: later scans cost a few requests, not a search
                before = dev.requests
                await asyncio.sleep(10 * PERIOD)
                per_scan = (dev.requests - before) / 10
                assert per_scan <= 12, per_scan
            finally:
                await manager.stop()

    asyncio.run(main())
