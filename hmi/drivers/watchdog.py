"""Staleness: tags not read in time turn UNCERTAIN, then BAD, whatever the retries.

One timer per poll group, set for the earliest moment one of its tags can degrade: a
GOOD tag not read for ``period + timeout`` becomes UNCERTAIN (last known value), an
UNCERTAIN one not read for ``2 * period + timeout`` becomes BAD (no communication).
Because the timer does not depend on requests finishing, the bound holds even while a
request hangs in retries, and a dead device costs no work per scan.

A device is declared stale only by its own silence. On a line shared by several units, a
unit that answered its last request can be late because the line is busy with another
unit (waiting out a silent neighbour's timeout): its check waits until that read ends.
Its own read in flight, sent less than ``timeout`` ago, may still answer: GOOD turns
UNCERTAIN only after that (the BAD bound is not postponed by it). A unit that does not
answer is asked again when the line is free, fails at once, and is BAD by then.
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
        self,
        loop: asyncio.AbstractEventLoop,
        sink: Sink,
        wall: Callable[[], float],
        asking: Callable[[], tuple[DeviceState | None, float]] = lambda: (None, 0.0),
    ) -> None:
        self._loop = loop
        self._sink = sink
        self._wall = wall
        #: the device whose read is in flight on the line, and when it was sent
        self._asking = asking
        #: the freshness of tags never read: the start of the line
        self.started = loop.time()

    def arm(self, device: DeviceState, group: PollGroup, patience: float = 0.0) -> None:
        """Schedule the next check of ``group`` (if any tag of it can still degrade).

        ``patience``: no GOOD tag turns UNCERTAIN before this time (a read in flight).
        """
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
                due = min(max(since + period + timeout, patience), since + 2 * period + timeout)
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
        # The current outage's error; a device that answered its last request and is
        # silent now has none yet (its read is still in flight): "no answer", until
        # the read fails and its cause replaces it (DeviceState.degrade).
        detail = device.stats.outage or f"{device.name}: no answer"
        asker, sent = self._asking()
        if asker is not None and asker is not device and not device.misses:
            # busy with another unit: not this one's silence; look again after that read
            group.timer = self._loop.call_at(now + timeout, self._check, device, group)
            return
        patience = sent + timeout if asker is device and now - sent < timeout else 0.0
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
            elif severity is Severity.GOOD and age >= period + timeout - _EPSILON and not patience:
                quality = Quality.uncertain(Reason.LAST_KNOWN_VALUE, detail)
                samples[name] = sample.degraded(quality, wall)
        if samples:
            device.forget_data()  # the next good answer must be published again
            changed = device.filter.changed(samples)
            if changed:
                self._sink.samples(changed)
        self.arm(device, group, patience)
