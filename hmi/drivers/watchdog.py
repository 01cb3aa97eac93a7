"""Staleness: tags not read in time turn UNCERTAIN, then BAD, whatever the retries.

One timer per poll group, set for the earliest moment one of its tags can degrade: a
GOOD tag not read for ``period + timeout`` becomes UNCERTAIN (last known value), an
UNCERTAIN one not read for ``2 * period + timeout`` becomes BAD (no communication).
Because the timer does not depend on requests finishing, the bound holds even while a
request hangs in retries, and a dead device costs no work per scan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hmi.core.quality import Quality, Reason, Severity
from hmi.core.sample import Sample
from hmi.drivers.device import DeviceState, PollGroup
from hmi.drivers.sink import Sink

#: timers fire a little early or late; never degrade a tag for a few microseconds
_EPSILON = 1e-3


class Watchdog:
    """Degrades the stale tags of a line's devices (see the module docstring)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sink: Sink, wall: Callable[[], float]
    ) -> None:
        self._loop = loop
        self._sink = sink
        self._wall = wall
        #: the freshness of tags never read: the start of the line
        self.started = loop.time()

    def arm(self, device: DeviceState, group: PollGroup) -> None:
        """Schedule the next check of ``group`` (if any tag of it can still degrade)."""
        group.disarm()
        if device.removed or device.groups.get(group.name) is not group:
            return  # a scan in flight when the device was removed or re-planned
        period, timeout = group.period, device.config.timeout
        last = device.last
        deadline = None
        for name, since in group.freshness(self.started):
            sample = last.get(name)
            if sample is None or sample.value is None:
                continue
            severity = sample.quality.severity
            if severity is Severity.GOOD:
                due = since + period + timeout
            elif severity is Severity.UNCERTAIN:
                due = since + 2 * period + timeout
            else:
                continue
            if deadline is None or due < deadline:
                deadline = due
        if deadline is not None:
            group.timer = self._loop.call_at(deadline, self._check, device, group)

    def _check(self, device: DeviceState, group: PollGroup) -> None:
        group.timer = None
        now, wall = self._loop.time(), self._wall()
        period, timeout = group.period, device.config.timeout
        last = device.last
        detail = device.stats.last_error or "no answer"
        samples: dict[str, Sample] = {}
        for name, since in group.freshness(self.started):
            sample = last.get(name)
            if sample is None or sample.value is None:
                continue
            age = now - since
            severity = sample.quality.severity
            if severity < Severity.BAD and age >= 2 * period + timeout - _EPSILON:
                quality = Quality.bad(Reason.NO_COMMUNICATION, detail)
                samples[name] = sample.degraded(quality, wall)
            elif severity is Severity.GOOD and age >= period + timeout - _EPSILON:
                quality = Quality.uncertain(Reason.LAST_KNOWN_VALUE, detail)
                samples[name] = sample.degraded(quality, wall)
        if samples:
            device.forget_data()  # the next good answer must be published again
            changed = device.filter.changed(samples)
            if changed:
                self._sink.samples(changed)
        self.arm(device, group)
