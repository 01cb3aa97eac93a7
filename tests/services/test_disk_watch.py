"""The data disk, watched: a warning before it is full, and the historian held back before
the audit trail and the alarm journal run out of room. The disk is a function of the test
(``usage``), the time the bus's virtual clock."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from hmi.bus import Bus, Supervisor, VirtualClock
from hmi.services import health as items
from hmi.services.disk_watch import (
    MB,
    DiskLimits,
    DiskWatch,
    disk_problem,
    disk_usage,
    history_check,
    size_text,
)
from hmi.services.health import StoreHealth

GB = 1024 * MB


def test_the_warning_stands_below_the_larger_of_its_share_and_its_megabytes() -> None:
    limits = DiskLimits(warn_percent=10.0, warn_mb=500.0)
    folder = Path("/data")
    assert disk_problem(limits, folder, lambda _: (100 * GB, 11 * GB)) is None
    assert disk_problem(limits, folder, lambda _: (100 * GB, 9 * GB)) == (
        "9.0 GB free of 100 GB on the disk of /data (warning below 10 GB)"
    )
    # a small disk: 500 MB is more than 10 % of 4 GB
    assert disk_problem(limits, folder, lambda _: (4 * GB, 450 * MB)) == (
        "450 MB free of 4.0 GB on the disk of /data (warning below 500 MB)"
    )

    def broken(_: Path) -> tuple[int, int]:
        raise OSError(5, "Input/output error")

    assert disk_problem(limits, folder, broken) == (
        "cannot read the free space of /data: Input/output error"
    )


def test_the_historian_is_held_back_below_its_reserve() -> None:
    limits = DiskLimits(history_reserve_percent=2.0, history_reserve_mb=1.0)
    free = {"bytes": 3 * MB}
    check = history_check(limits, Path("/data"), lambda _: (100 * MB, free["bytes"]))
    assert check() is None
    free["bytes"] = 1 * MB
    assert check() == (
        "data disk nearly full: 1.0 MB free; history waits below 2.0 MB to keep room "
        "for the audit trail and the alarm journal"
    )


def test_the_watch_reports_on_the_bus_clock_and_clears(tmp_path: Path) -> None:
    free = {"bytes": 50 * MB}
    health = StoreHealth()

    async def main() -> None:
        clock = VirtualClock(start=0.0)
        bus = Bus.local(clock)
        async with Supervisor(bus) as sup:
            await sup.start(
                DiskWatch(
                    tmp_path,
                    health,
                    DiskLimits(warn_percent=10.0, interval=30.0),
                    usage=lambda _: (100 * MB, free["bytes"]),
                )
            )
            assert health.problems() == {}
            free["bytes"] = 5 * MB
            await clock.run_for(29.0)
            assert health.problems() == {}  # not looked yet
            await clock.run_for(1.0)
            assert health.problems()[items.DISK].startswith("5.0 MB free of 100 MB")
            free["bytes"] = 20 * MB
            await clock.run_for(30.0)
            assert health.problems() == {}
        await bus.close()

    asyncio.run(main())


def test_limits_come_from_a_projects_data_section_when_it_has_one() -> None:
    assert DiskLimits.of(None) == DiskLimits()
    section = SimpleNamespace(warn_percent=5, warn_mb=None, history_reserve_mb=64, interval=10)
    assert DiskLimits.of(section) == DiskLimits(
        warn_percent=5.0, history_reserve_mb=64.0, interval=10.0
    )


def test_the_disk_of_a_folder_not_made_yet_is_its_parents(tmp_path: Path) -> None:
    total, free = disk_usage(tmp_path / "data" / "not" / "yet")
    assert total >= free > 0
    assert [size_text(n) for n in (512, 2048, 3 * MB + MB // 10, 12 * GB)] == [
        "512 B",
        "2.0 kB",
        "3.1 MB",
        "12 GB",
    ]
