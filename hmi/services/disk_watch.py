"""The data folder's disk, watched: a warning alarm before it is full, and room kept for
the records that must never be refused for want of it.

Two thresholds of free space (:class:`DiskLimits`):

- below ``warn`` the :class:`DiskWatch` actor reports the ``disk`` item of the
  :class:`~hmi.services.health.StoreHealth` (the engine raises ``system/data/disk``,
  priority 3), checked every ``interval`` seconds of the bus clock;
- below ``history reserve`` (lower) the historian stops writing (:func:`history_check`):
  its rows wait in its bounded buffer, so the last space goes to the audit trail and the
  alarm journal, whose failure refuses operators' actions.

Each threshold is the larger of a share of the disk's size and a number of megabytes.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hmi.bus import Actor
from hmi.services.health import DISK, StoreHealth, describe
from hmi.services.historian import DiskCheck

MB = 1024 * 1024

#: ``usage(folder) -> (total bytes, free bytes)`` of the disk that holds ``folder``
Usage = Callable[[Path], tuple[int, int]]


def disk_usage(folder: Path) -> tuple[int, int]:
    """Total and free bytes of the disk holding ``folder`` (its nearest existing parent:
    the folder may not be made yet)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            usage = shutil.disk_usage(candidate)
            return usage.total, usage.free
    usage = shutil.disk_usage(Path.cwd())
    return usage.total, usage.free


def size_text(count: float) -> str:
    """Bytes in an operator's words: ``512 kB``, ``3.1 MB``, ``12 GB``."""
    for unit, size in (("GB", MB * 1024), ("MB", MB), ("kB", 1024)):
        if count >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{count:.0f} B"


@dataclass(frozen=True, slots=True)
class DiskLimits:
    """When the data disk is nearly full (see the module docstring)."""

    #: warn below this share of the disk free (percent), or below ``warn_mb``
    warn_percent: float = 10.0
    warn_mb: float = 0.0
    #: the historian stops writing below this share free (percent), or ``history_reserve_mb``
    history_reserve_percent: float = 2.0
    history_reserve_mb: float = 0.0
    #: seconds between two looks at the disk
    interval: float = 30.0

    @classmethod
    def of(cls, config: Any) -> DiskLimits:
        """The limits of a project's ``data:`` section: any object with these fields'
        names (a field missing or None keeps its default); None: all defaults."""
        limits = cls()
        if config is None:
            return limits
        given = {
            name: float(value)
            for name in (
                "warn_percent",
                "warn_mb",
                "history_reserve_percent",
                "history_reserve_mb",
                "interval",
            )
            if (value := getattr(config, name, None)) is not None
        }
        return dataclasses.replace(limits, **given)

    def warn_below(self, total: int) -> float:
        """Free bytes under which the disk warning stands."""
        return max(total * self.warn_percent / 100.0, self.warn_mb * MB)

    def reserve(self, total: int) -> float:
        """Free bytes under which the historian stops writing."""
        return max(total * self.history_reserve_percent / 100.0, self.history_reserve_mb * MB)


def disk_problem(limits: DiskLimits, folder: Path, usage: Usage) -> str | None:
    """Why the disk of ``folder`` deserves a warning now, or None."""
    try:
        total, free = usage(folder)
    except OSError as exc:
        return f"cannot read the free space of {folder}: {describe(exc)}"
    limit = limits.warn_below(total)
    if free >= limit:
        return None
    return (
        f"{size_text(free)} free of {size_text(total)} on the disk of {folder} "
        f"(warning below {size_text(limit)})"
    )


def history_check(limits: DiskLimits, folder: Path, usage: Usage = disk_usage) -> DiskCheck:
    """The historian's :data:`~hmi.services.historian.DiskCheck`: why not to write now."""

    def check() -> str | None:
        try:
            total, free = usage(folder)
        except OSError:
            return None  # cannot tell: the write itself will say if the disk is full
        reserve = limits.reserve(total)
        if free >= reserve:
            return None
        return (
            f"data disk nearly full: {size_text(free)} free; history waits below "
            f"{size_text(reserve)} to keep room for the audit trail and the alarm journal"
        )

    return check


class DiskWatch(Actor):
    """Looks at the data folder's disk every ``limits.interval`` seconds (bus clock) and
    reports the ``disk`` item of ``health``."""

    name = "disk-watch"

    def __init__(
        self,
        folder: Path,
        health: StoreHealth,
        limits: DiskLimits | None = None,
        *,
        usage: Usage = disk_usage,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.folder = folder
        self.health = health
        self.limits = limits or DiskLimits()
        self.usage = usage

    def check(self) -> str | None:
        """Look now; report and return the problem (None: enough space)."""
        problem = disk_problem(self.limits, self.folder, self.usage)
        self.health.report(DISK, problem)
        return problem

    async def setup(self) -> None:
        self.check()

    async def run(self) -> None:
        while not self.stopping:
            await self.clock.sleep(self.limits.interval)
            self.check()
