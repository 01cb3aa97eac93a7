"""One communication line: a TCP device, or an RTU serial line with several unit ids.

A line owns one :class:`ModbusLink` and one task. The task polls the due poll groups of
its devices one request at a time (pymodbus allows one request per connection, and a
serial line is half-duplex anyway), runs queued writes between two scans so a write never
interleaves with a half-done poll, and reconnects with capped exponential backoff and
jitter. Lines run concurrently: a dead device only stalls its own line.

Quality on loss of communication: a failed scan turns the group's GOOD tags UNCERTAIN at
once (last value kept); a watchdog timer turns every tag not read successfully for
``2 * period + timeout`` BAD, whatever the retries, so the bound holds by construction.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.modbus import (
    Block,
    ChangeFilter,
    Point,
    ResponseError,
    decode_block,
    plan_blocks,
    split_block,
)
from hmi.core.quality import Quality, Reason, Severity
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.drivers.link import CommError, DeviceException, ModbusLink, NotConnected
from hmi.drivers.status import DeviceStats, DeviceStatus
from hmi.drivers.writes import ReadBackMismatch, WritePlan, execute_write
from hmi.project.model import DeviceConfig

log = logging.getLogger(__name__)

#: exception codes that mean "this address", worth splitting a block to find it
_ADDRESS_EXCEPTIONS = (2, 3)
_EPSILON = 1e-3


class Sink(Protocol):
    """Where a line delivers its results (the bus actor, or a test)."""

    def samples(self, batch: Mapping[str, Sample]) -> None:
        """One scan's changed samples."""

    def status(self, status: DeviceStatus) -> None:
        """A device's link status (periodically and on every connect/disconnect)."""


#: instrumentation: (device, group, scan start, scan end) in monotonic seconds
ScanHook = Callable[[str, str, float, float], None]


@dataclass
class _Group:
    name: str
    period: float
    blocks: list[Block]
    tags: list[str]
    next_due: float = 0.0
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Device:
    config: DeviceConfig
    points: dict[str, Point]
    groups: dict[str, _Group]
    stats: DeviceStats
    filter: ChangeFilter = field(default_factory=ChangeFilter)
    last_ok: dict[str, float] = field(default_factory=dict)
    #: the last good raw data of each block (by id), to skip decoding unchanged blocks
    raw: dict[int, tuple[Block, list[int] | list[bool]]] = field(default_factory=dict)


@dataclass
class _Write:
    device: str
    plan: WritePlan
    command: Command
    future: asyncio.Future[CommandResult]


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
    ) -> None:
        self.key = key
        self._sink = sink
        self._poll_groups = dict(poll_groups)
        self._link_factory = link_factory
        self._wall = wall_clock
        self._status_interval = status_interval
        self._reconnect_base = reconnect_base
        self._on_scan = on_scan
        self._devices: dict[str, _Device] = {}
        self._writes: list[_Write] = []
        self._link: ModbusLink | None = None
        self._wake: asyncio.Future[None] | None = None
        self._status_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = 0.0
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
        old = self._devices.get(config.name)
        points = {t.name: Point.from_tag(t) for t in tags if t.source is not None}
        groups: dict[str, _Group] = {}
        for name in sorted({p.poll_group for p in points.values()}):
            members = [p for p in points.values() if p.poll_group == name]
            period = self._poll_groups.get(name, 1.0)
            groups[name] = _Group(name, period, plan_blocks(members), [p.tag for p in members])
        device = old or _Device(config, {}, {}, DeviceStats(config.name))
        removed = [name for name in device.points if name not in points]
        for group in device.groups.values():
            if group.timer is not None:
                group.timer.cancel()
        device.config, device.points, device.groups = config, points, groups
        device.raw.clear()
        device.filter.forget(removed)
        for point in points.values():
            device.filter.set_deadband(point.tag, point.deadband)
        self._devices[config.name] = device
        if self._loop is not None:
            for group in groups.values():
                self._arm(device, group)
        self._poke()
        return removed

    def remove_device(self, name: str) -> list[str]:
        """Stop polling ``name``; returns its tag names (the caller marks them BAD)."""
        device = self._devices.pop(name, None)
        if device is None:
            return []
        for group in device.groups.values():
            if group.timer is not None:
                group.timer.cancel()
        for write in [w for w in self._writes if w.device == name]:
            self._finish(write, CommandState.FAILED, "device removed")
        return list(device.points)

    def last_samples(self, device: str) -> Mapping[str, Sample]:
        """The last published sample of every tag of ``device``."""
        return self._devices[device].filter.last

    # -- the task -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll until cancelled; closes the link on the way out."""
        loop = self._loop = asyncio.get_running_loop()
        self._started = loop.time()
        first = next(iter(self._devices.values())).config
        self._link = self._link_factory(first)
        for device in self._devices.values():
            for group in device.groups.values():
                self._arm(device, group)
        self._status_timer = loop.call_later(self._status_interval, self._publish_status)
        try:
            while not self._stopping:
                try:
                    await self._cycle(self._link)
                except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                    raise
                except Exception:  # a bug here must not kill the line: log, back off, go on
                    log.exception("line %s: unexpected error", self.key)
                    await self._sleep_until(loop.time() + 1.0)
        finally:
            self._link.close()
            if self._status_timer is not None:
                self._status_timer.cancel()
            for device in self._devices.values():
                for group in device.groups.values():
                    if group.timer is not None:
                        group.timer.cancel()
            for write in list(self._writes):
                self._finish(write, CommandState.FAILED, "driver stopped")

    async def _cycle(self, link: ModbusLink) -> None:
        loop = asyncio.get_running_loop()
        if not link.connected:
            await self._connect(link)
            return
        await self._do_writes(link)
        now = loop.time()
        due = [
            (device, group)
            for device in list(self._devices.values())
            for group in device.groups.values()
            if group.next_due <= now
        ]
        if not due:
            await self._sleep_until(self._next_due())
            return
        batch: dict[str, Sample] = {}
        for device, group in due:
            await self._scan(link, device, group, batch)
            if not link.connected:
                break
        if batch:
            self._sink.samples(batch)

    def _next_due(self) -> float:
        dues = [g.next_due for d in self._devices.values() for g in d.groups.values()]
        return min(dues) if dues else asyncio.get_running_loop().time() + 3600.0

    async def _sleep_until(self, deadline: float) -> None:
        """Sleep until ``deadline`` or until something (a write, a change) wakes us."""
        loop = asyncio.get_running_loop()
        if self._writes or self._stopping:
            return
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
            for write in list(self._writes):
                self._finish(write, CommandState.FAILED, "device not connected")
            try:
                await link.connect()
            except NotConnected as exc:
                self._lost(str(exc), "connect")
                caps = [d.config.reconnect_max for d in self._devices.values()]
                cap = max(self._reconnect_base, min(caps, default=10.0))
                delay = min(cap, self._reconnect_base * 2**attempt) * (0.5 + 0.5 * random.random())
                attempt += 1
                await self._sleep_until(loop.time() + delay)
                continue
            now = loop.time()
            for device in self._devices.values():
                device.stats.connected = True
                for group in device.groups.values():
                    group.next_due = now
                self._sink.status(device.stats.snapshot(self._wall(), now))
            return

    def _lost(self, message: str, kind: str) -> None:
        """The link is down: every GOOD tag becomes UNCERTAIN now, unread ones BAD."""
        wall = self._wall()
        batch: dict[str, Sample] = {}
        for device in self._devices.values():
            was = device.stats.connected
            device.stats.connected = False
            device.stats.error(kind, message, wall)
            degraded = self._degrade(device, device.points, message, Reason.NOT_CONNECTED)
            batch.update(device.filter.changed(degraded))
            if was or device.stats.errors.get(kind) == 1:
                self._sink.status(device.stats.snapshot(wall, asyncio.get_running_loop().time()))
        if batch:
            self._sink.samples(batch)

    def _degrade(
        self, device: _Device, tags: Iterable[str], detail: str, never_read: Reason
    ) -> dict[str, Sample]:
        """Samples (not yet filtered) that degrade ``tags`` after a failure."""
        device.raw.clear()  # the next good answer must be decoded and published
        wall, last = self._wall(), device.filter.last
        samples: dict[str, Sample] = {}
        for name in tags:
            previous = last.get(name)
            if previous is None or previous.value is None:
                if previous is None or previous.quality.reason is Reason.WAITING_FOR_INITIAL_DATA:
                    samples[name] = Sample(None, Quality.bad(never_read, detail), wall, wall)
            elif previous.quality.severity is Severity.GOOD:
                lkv = Quality.uncertain(Reason.LAST_KNOWN_VALUE, detail)
                samples[name] = previous.degraded(lkv, wall)
        return samples

    # -- scanning --------------------------------------------------------------------------------
    async def _scan(
        self, link: ModbusLink, device: _Device, group: _Group, batch: dict[str, Sample]
    ) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        if start - group.next_due > group.period:
            device.stats.overruns += 1
        unit, stats, blocks = device.config.unit_id, device.stats, group.blocks
        samples: dict[str, Sample] = {}
        failure = ""
        i = 0
        while i < len(blocks):
            block = blocks[i]
            sent = loop.time()
            try:
                data = await link.read(unit, block.table, block.start, block.count)
            except DeviceException as exc:
                stats.ok(loop.time() - sent)
                stats.error("exception", str(exc), self._wall())
                halves = split_block(block) if exc.code in _ADDRESS_EXCEPTIONS else None
                if halves is not None:
                    blocks[i : i + 1] = halves  # keep the split: next scans skip the search
                    continue
                reason = Reason.CONFIG_ERROR if exc.code <= 3 else Reason.DEVICE_FAILURE
                quality = Quality.bad(reason, str(exc))
                device.raw.pop(id(block), None)
                wall = self._wall()
                last = device.filter.last
                for name in block.tags:
                    old = last.get(name)
                    samples[name] = (
                        old.degraded(quality, wall) if old else Sample(None, quality, wall, wall)
                    )
                i += 1
                continue
            except CommError as exc:
                kind = "connection" if not link.connected else "timeout"
                stats.error(kind, str(exc), self._wall())
                failure = str(exc)
                break
            done = loop.time()
            stats.ok(done - sent)
            previous = device.raw.get(id(block))
            if previous is not None and previous[0] is block and previous[1] == data:
                # Same registers as last scan: same samples, which report-by-exception
                # would not publish anyway. Only the freshness is news.
                device.last_ok.update(dict.fromkeys(block.names, done))
                i += 1
                continue
            try:
                decoded = decode_block(block, data, self._wall())
            except ResponseError as exc:
                stats.error("response", str(exc), self._wall())
                samples.update(self._degrade(device, block.tags, str(exc), Reason.DEVICE_FAILURE))
                i += 1
                continue
            samples.update(decoded)
            device.raw[id(block)] = (block, data)
            device.last_ok.update(dict.fromkeys(block.names, done))
            i += 1
        end = loop.time()
        group.next_due += group.period
        if group.next_due < end - group.period:
            group.next_due = end  # far behind: skip the missed cycles rather than burst
        if failure:
            pending = [t for t in group.tags if t not in samples]
            samples.update(self._degrade(device, pending, failure, Reason.NO_COMMUNICATION))
            if not link.connected:
                self._lost(failure, "connection")
        points = device.points
        batch.update(device.filter.changed({k: v for k, v in samples.items() if k in points}))
        if group.timer is None:
            self._arm(device, group)
        if self._on_scan is not None:
            self._on_scan(device.config.name, group.name, start, end)

    # -- watchdog --------------------------------------------------------------------------------
    def _arm(self, device: _Device, group: _Group) -> None:
        """Schedule the next staleness check of ``group`` (if any tag can still degrade)."""
        loop = self._loop
        if loop is None or device.config.name not in self._devices:
            return
        if group.timer is not None:
            group.timer.cancel()
            group.timer = None
        period, timeout = group.period, device.config.timeout
        started = self._started
        last, last_ok = device.filter.last, device.last_ok
        deadlines = []
        for name in group.tags:
            sample = last.get(name)
            if sample is None or sample.value is None:
                continue
            since = last_ok.get(name, started)
            if sample.quality.severity is Severity.GOOD:
                deadlines.append(since + period + timeout)
            elif sample.quality.severity is Severity.UNCERTAIN:
                deadlines.append(since + 2 * period + timeout)
        if not deadlines:
            return
        group.timer = loop.call_at(min(deadlines), self._check, device, group)

    def _check(self, device: _Device, group: _Group) -> None:
        group.timer = None
        loop = asyncio.get_running_loop()
        now, wall = loop.time(), self._wall()
        period, timeout = group.period, device.config.timeout
        last, last_ok = device.filter.last, device.last_ok
        detail = device.stats.last_error or "no answer"
        samples: dict[str, Sample] = {}
        for name in group.tags:
            sample = last.get(name)
            if sample is None or sample.value is None:
                continue
            age = now - last_ok.get(name, self._started)
            severity = sample.quality.severity
            if severity < Severity.BAD and age >= 2 * period + timeout - _EPSILON:
                quality = Quality.bad(Reason.NO_COMMUNICATION, detail)
                samples[name] = sample.degraded(quality, wall)
            elif severity is Severity.GOOD and age >= period + timeout - _EPSILON:
                quality = Quality.uncertain(Reason.LAST_KNOWN_VALUE, detail)
                samples[name] = sample.degraded(quality, wall)
        if samples:
            device.raw.clear()
        changed = device.filter.changed(samples)
        if changed:
            self._sink.samples(changed)
        self._arm(device, group)

    def _publish_status(self) -> None:
        loop = asyncio.get_running_loop()
        self._status_timer = loop.call_later(self._status_interval, self._publish_status)
        for device in self._devices.values():
            self._sink.status(device.stats.snapshot(self._wall(), loop.time()))

    # -- writes ----------------------------------------------------------------------------------
    async def write(
        self, device: str, plan: WritePlan, command: Command, timeout: float
    ) -> CommandResult:
        """Queue a checked write; the line runs it between two scans. Never raises."""
        loop = asyncio.get_running_loop()
        write = _Write(device, plan, command, loop.create_future())
        self._writes.append(write)
        self._poke()
        done, _ = await asyncio.wait([write.future], timeout=timeout)
        if not done:
            self._finish(write, CommandState.TIMED_OUT, f"no result within {timeout:g} s")
        return write.future.result()

    async def _do_writes(self, link: ModbusLink) -> None:
        while self._writes:
            write = self._writes[0]
            device = self._devices.get(write.device)
            if device is None or write.future.done():
                self._finish(write, CommandState.FAILED, "device removed")
                continue
            try:
                sample = await execute_write(link, device.config.unit_id, write.plan, self._wall())
            except ReadBackMismatch as exc:
                self._finish(write, CommandState.FAILED, str(exc))
            except DeviceException as exc:
                device.stats.error("exception", str(exc), self._wall())
                self._finish(write, CommandState.FAILED, f"device refused: {exc}")
            except CommError as exc:
                device.stats.error("timeout", str(exc), self._wall())
                state = (
                    CommandState.FAILED if isinstance(exc, NotConnected) else CommandState.TIMED_OUT
                )
                self._finish(write, state, f"no answer from {device.config.name}: {exc}")
            else:
                changed = device.filter.changed({write.command.tag: sample})
                if changed:
                    self._sink.samples(changed)
                self._finish(write, CommandState.CONFIRMED, "", sample)

    def _finish(
        self, write: _Write, state: CommandState, message: str, sample: Sample | None = None
    ) -> None:
        if write in self._writes:
            self._writes.remove(write)
        if write.future.done():
            return
        command = write.command
        value = sample.value if sample is not None else None
        if sample is None and write.device in self._devices:
            old = self._devices[write.device].filter.last.get(command.tag)
            value = old.value if old is not None else None
        write.future.set_result(
            CommandResult(command.id, command.tag, state, value, message, self._wall())
        )


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
