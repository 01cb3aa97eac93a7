"""One communication line: a TCP device, or an RTU serial line with several unit ids.

A line owns one :class:`ModbusLink` and one task. The task polls the due poll groups of
its devices one request at a time (pymodbus allows one request per connection, and a
serial line is half-duplex anyway), runs queued writes before its next request (between
two reads of a scan, never in the middle of a request: a write waits for one read, not
for a whole scan), and reconnects with capped exponential backoff and jitter. Lines run
concurrently: a dead device only stalls its own line.

On a line shared by several devices (RTU units), a unit that does not answer is retried
with the same capped, jittered backoff as a reconnect, so its timeouts do not stretch
the poll periods of the units that do answer.

Quality on loss of communication: a failed scan turns the group's GOOD tags UNCERTAIN at
once (last value kept); the :class:`~hmi.drivers.watchdog.Watchdog` turns every tag not
read successfully for ``2 * period + timeout`` BAD, whatever the retries.

A write read back as written *settles*: the line reads the point again between scans
(every poll period of its tag, at least four times over the settle time) until its settle
time is over. If the device's value moves away meanwhile (its logic overrode the command)
the write is OVERRIDDEN, with the value the device holds; else CONFIRMED. A watch cut
short (link lost, driver stopped, a later write to the point) ends CONFIRMED with a note:
the device did hold the value when it was read back. Every read-back
and settle read is published, and the written point's block is decoded afresh at its
next scan, so what the operator sees is always the device's value, never the one written.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping

from hmi.core.command import Command, CommandResult
from hmi.core.quality import Reason
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.drivers.device import DeviceState, PollGroup
from hmi.drivers.errlog import ErrorLog
from hmi.drivers.errors import NotConnected
from hmi.drivers.line_writes import LineWrites
from hmi.drivers.link import ModbusLink
from hmi.drivers.scan import scan_group
from hmi.drivers.sink import ScanHook, Sink
from hmi.drivers.status import DeviceStats
from hmi.drivers.watchdog import Watchdog
from hmi.drivers.writes import WritePlan
from hmi.project.model import DeviceConfig

log = logging.getLogger(__name__)


class Line:
    """Polls the devices of one link; see the module docstring."""

    def __init__(
        self,
        key: str,
        sink: Sink,
        poll_groups: Mapping[str, float],
        *,
        link_factory: Callable[[DeviceConfig], ModbusLink] = ModbusLink,
        wall_clock: Callable[[], float] = time.time,
        status_interval: float = 1.0,
        reconnect_base: float = 0.1,
        on_scan: ScanHook | None = None,
        log_interval: float = 60.0,
    ) -> None:
        self.key = key
        self._sink = sink
        self._poll_groups = dict(poll_groups)
        self._link_factory = link_factory
        self._wall = wall_clock
        self._status_interval = status_interval
        self._reconnect_base = reconnect_base
        self._on_scan = on_scan
        #: device errors in the log: one line per device and kind per ``log_interval``
        self.errors = ErrorLog(log, log_interval)
        self._devices: dict[str, DeviceState] = {}
        #: every (device, group) of the line; replaced, never mutated, so a scan in
        #: progress iterates a consistent list while devices change
        self._schedule: list[tuple[DeviceState, PollGroup]] = []
        self._writes = LineWrites(self._devices, sink, wall_clock, self._report, self._poke)
        self._wake: asyncio.Future[None] | None = None
        self._status_timer: asyncio.TimerHandle | None = None
        self._watchdog: Watchdog | None = None
        self._link: ModbusLink | None = None
        self._stopping = False

    # -- configuration ---------------------------------------------------------------------------
    @property
    def devices(self) -> list[str]:
        """Names of the devices on this line."""
        return list(self._devices)

    def config(self, device: str) -> DeviceConfig:
        """The configuration of one device of this line."""
        return self._devices[device].config

    def set_device(self, config: DeviceConfig, tags: Iterable[Tag]) -> list[str]:
        """Add a device, or replace its tags; returns the names of tags it no longer has."""
        device = self._devices.get(config.name) or DeviceState(
            config, DeviceStats(config.name, self.errors.report)
        )
        removed = device.plan(config, tags, self._poll_groups)
        self._devices[config.name] = device
        self._reschedule()
        self._name_units()
        if self._watchdog is not None:
            for group in device.groups.values():
                self._watchdog.arm(device, group)
        self._poke()
        return removed

    def remove_device(self, name: str) -> list[str]:
        """Stop polling ``name``; returns its tag names (the caller marks them BAD)."""
        device = self._devices.pop(name, None)
        if device is None:
            return []
        device.removed = True
        self.errors.forget(name)
        for group in device.groups.values():
            group.disarm()
        self._reschedule()
        self._name_units()
        gone = "the device was removed before it settled"
        self._writes.end_all("removed from the driver", gone, name)
        return list(device.points)

    def last_samples(self, device: str) -> Mapping[str, Sample]:
        """The last published sample of every tag of ``device``."""
        return self._devices[device].last

    def _name_units(self) -> None:
        """Tell the link which device each unit id is (its errors name the right one)."""
        if self._link is not None:
            self._link.name_units({d.config.unit_id: d.name for d in self._devices.values()})

    def _reschedule(self) -> None:
        self._schedule = [(d, g) for d in self._devices.values() for g in d.groups.values()]

    # -- the task -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll until stopped or cancelled; closes the link on the way out."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        watchdog = self._watchdog = Watchdog(loop, self._sink, self._wall, self._asking)
        link = self._link = self._link_factory(next(iter(self._devices.values())).config)
        self._writes.link = link
        self._name_units()
        for device, group in self._schedule:
            watchdog.arm(device, group)
        self._status_timer = loop.call_later(self._status_interval, self._publish_status)
        try:
            while not self._stopping:
                if task is not None and task.cancelling():
                    # Python 3.11's asyncio.wait_for (inside pymodbus) swallows a
                    # cancellation that arrives in the same loop iteration as the answer;
                    # without this check a cancelled line would poll on forever.
                    raise asyncio.CancelledError
                try:
                    if not link.connected:
                        await self._connect(link)
                        continue
                    if self._writes.pending:
                        await self._writes.run(link)
                    if self._writes.settling:
                        await self._writes.watch_settling(link, loop)
                    await self._poll(link, loop)
                except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                    raise
                except Exception:  # a bug here must not kill the line: log, back off, go on
                    log.exception("line %s: unexpected error", self.key)
                    await self._sleep_until(loop.time() + 1.0)
        finally:
            link.close()
            if self._status_timer is not None:
                self._status_timer.cancel()
            for _, group in self._schedule:
                group.disarm()
            self._writes.end_all("the driver stopped", "the driver stopped before it settled")

    async def _poll(self, link: ModbusLink, loop: asyncio.AbstractEventLoop) -> None:
        """Scan every due group once, or sleep until one is due.

        Each scan's changes go to the sink as one batch right after the scan: filtering
        and publishing with no ``await`` between them, so a watchdog verdict published
        meanwhile is never overtaken by an older scan result.
        """
        now = loop.time()
        due = [entry for entry in self._schedule if entry[1].next_due <= now]
        if not due:
            await self._sleep_until(self._next_due(loop))
            return
        watchdog = self._watchdog
        for device, group in due:
            if group.next_due > now or device.removed:
                continue  # postponed (its unit did not answer) or removed during this round
            start = loop.time()
            try:
                samples, failure = await scan_group(
                    link, device, group, loop.time, self._wall, between=self._writes.between_reads
                )
            finally:
                device.asking = 0.0
            end = loop.time()
            if start - group.next_due > group.period:
                device.stats.overruns += 1
            group.next_due += group.period
            if group.next_due < end - group.period:
                group.next_due = end  # far behind: skip the missed cycles rather than burst
            if not device.removed:  # else its tags are out of service already
                if failure:
                    self._failed(device, group, samples, failure)
                else:
                    device.misses = 0
                if samples:
                    points = device.points  # tags removed during the scan are not published
                    changed = device.filter.changed(
                        {k: v for k, v in samples.items() if k in points}
                    )
                    if changed:
                        self._sink.samples(changed)
                if group.timer is None and watchdog is not None:
                    watchdog.arm(device, group)
                self._report(device)
            if self._on_scan is not None:
                self._on_scan(device.name, group.name, start, end)
            if not link.connected:
                break  # a timeout only costs its own group; a lost link ends the round

    def _failed(
        self, device: DeviceState, group: PollGroup, samples: dict[str, Sample], failure: str
    ) -> None:
        """A scan cut short: its unread tags degrade; a lost link degrades the line."""
        pending = [t for t in group.tags if t not in samples]
        wall = self._wall()
        samples.update(device.degrade(pending, failure, Reason.NO_COMMUNICATION, wall))
        if self._link is not None and not self._link.connected:
            self._lost(failure, "connection")
        elif len(self._devices) > 1:
            # A silent unit on a shared line: back it off, the others keep their periods.
            delay = self._backoff(device.config.reconnect_max, device.misses)
            device.misses += 1
            device.postpone(asyncio.get_running_loop().time() + delay)

    def _backoff(self, cap: float, attempt: int) -> float:
        """Exponential from ``reconnect_base``, capped, with jitter (0.5 to 1 times)."""
        cap = max(self._reconnect_base, cap)
        return min(cap, self._reconnect_base * 2.0 ** min(attempt, 30)) * (
            0.5 + 0.5 * random.random()
        )

    def _asking(self) -> tuple[DeviceState | None, float]:
        """The device whose read is in flight on the line, and when it was sent."""
        for device in self._devices.values():
            if device.asking:
                return device, device.asking
        return None, 0.0

    def _next_due(self, loop: asyncio.AbstractEventLoop) -> float:
        due = [g.next_due for _, g in self._schedule] + self._writes.next_reads()
        return min(due, default=loop.time() + 3600.0)

    async def _sleep_until(self, deadline: float) -> None:
        """Sleep until ``deadline`` or until something (a write, a change) wakes us."""
        if self._writes.pending or self._stopping:
            return
        loop = asyncio.get_running_loop()
        wake = self._wake = loop.create_future()
        handle = loop.call_at(deadline, _resolve, wake)
        try:
            await wake
        finally:
            handle.cancel()
            self._wake = None

    def stop(self) -> None:
        """Ask the task to end after the current request (cooperative, never lost)."""
        self._stopping = True
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    # -- connecting ------------------------------------------------------------------------------
    async def _connect(self, link: ModbusLink) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        while not self._stopping:
            # Settling writes: confirmed as far as anyone can tell; the tags' quality says
            # the rest.
            self._writes.end_all("not connected", "the link was lost before it settled")
            try:
                await link.connect()
            except NotConnected as exc:
                self._lost(str(exc), "connect")
                caps = [d.config.reconnect_max for d in self._devices.values()]
                delay = self._backoff(min(caps, default=10.0), attempt)
                attempt += 1
                await self._sleep_until(loop.time() + delay)
                continue
            now = loop.time()
            for device in self._devices.values():
                device.stats.connected = True
                for group in device.groups.values():
                    group.next_due = now
                self._report(device)
            return

    def _lost(self, message: str, kind: str) -> None:
        """The link is down: every GOOD tag becomes UNCERTAIN now, unread ones BAD."""
        wall = self._wall()
        batch: dict[str, Sample] = {}
        for device in self._devices.values():
            device.stats.disconnected()
            device.stats.error(kind, message, wall)
            degraded = device.degrade(device.points, message, Reason.NOT_CONNECTED, wall)
            batch.update(device.filter.changed(degraded))
            # the first error of a kind is news too (e.g. the first failed connect)
            self._report(device, force=device.stats.errors.get(kind) == 1)
        if batch:
            self._sink.samples(batch)

    def _report(self, device: DeviceState, *, force: bool = False) -> None:
        """Publish ``device``'s status now if connected or communicating changed.

        Between two status intervals, so an alarm on a silent device is raised within a
        request's timeout; the rate window of the periodic status is left running.
        """
        stats = device.stats
        if force or stats.changed:
            now = asyncio.get_running_loop().time()
            self._sink.status(stats.snapshot(self._wall(), now, window=False))

    def _publish_status(self) -> None:
        loop = asyncio.get_running_loop()
        self._status_timer = loop.call_later(self._status_interval, self._publish_status)
        self.errors.flush()
        for device in self._devices.values():
            self._sink.status(device.stats.snapshot(self._wall(), loop.time()))

    # -- writes ----------------------------------------------------------------------------------
    def submit(
        self,
        device: str,
        plan: WritePlan,
        command: Command,
        timeout: float,
        *,
        tag: Tag | None = None,
        settle: float = 0.0,
    ) -> asyncio.Future[CommandResult]:
        """Queue a checked write at once; the line runs it between two scans, in order
        (:meth:`LineWrites.submit`)."""
        return self._writes.submit(device, plan, command, timeout, tag=tag, settle=settle)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
