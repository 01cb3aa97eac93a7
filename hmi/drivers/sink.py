"""Where the driver's results go: the bus actor, or a test's recorder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from hmi.core.sample import Sample
from hmi.drivers.status import DeviceStatus


class Sink(Protocol):
    """Receives what the lines produce (one call per scan, never per sample)."""

    def samples(self, batch: Mapping[str, Sample]) -> None:
        """One scan's changed samples."""

    def status(self, status: DeviceStatus) -> None:
        """A device's link status (periodically and on every connect/disconnect)."""


#: instrumentation: (device, group, scan start, scan end) in monotonic seconds
ScanHook = Callable[[str, str, float, float], None]
