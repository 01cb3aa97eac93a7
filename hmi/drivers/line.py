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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.quality import Reason
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.drivers.device import DeviceState, PollGroup
from hmi.drivers.errlog import ErrorLog
from hmi.drivers.errors import CommError, DeviceException, MalformedReply, NotConnected
from hmi.drivers.link import ModbusLink
from hmi.drivers.scan import scan_group
from hmi.drivers.sink import ScanHook, Sink
from hmi.drivers.status import DeviceStats
from hmi.drivers.watchdog import Watchdog
from hmi.drivers.write_checks import overridden_message, pulse_message
from hmi.drivers.writes import ReadBackMismatch, WritePlan, execute_write, holds, read_point
from hmi.project.model import DeviceConfig

log = logging.getLogger(__name__)


#: the shortest interval between two reads of a settling write (s)
SETTLE_READ_MIN = 0.05


@dataclass
class _Write:
    device: str
    plan: WritePlan
    command: Command
    future: asyncio.Future[CommandResult]
    #: the tag written (for the words of an override), and how long to watch it (s)
    tag: Tag | None = None
    settle: float = 0.0
    timeout: float = 5.0
    #: the write's timeout
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Settling:
    """A write read back as written, watched until ``deadline`` (loop time)."""

    write: _Write
    deadline: float
    interval: float
    next_read: float
    #: the device's value as last read (the read-back, then each settle read)
    sample: Sample


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
        self._writes: list[_Write] = []
        self._settling: list[_Settling] = []
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
        for write in [w for w in self._writes if w.device == name]:
            self._finish(write, CommandState.FAILED, "device removed")
        for settling in [s for s in self._settling if s.write.device == name]:
            self._end_watch(settling, "the device was removed before it settled")
        return list(device.points)

    def last_samples(self, device: str) -> Mapping[str, Sample]:
        """The last published sample of every tag of ``device``."""
        return self._devices[device].last

    def _reschedule(self) -> None:
        self._schedule = [(d, g) for d in self._devices.values() for g in d.groups.values()]

    # -- the task -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll until stopped or cancelled; closes the link on the way out."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        watchdog = self._watchdog = Watchdog(loop, self._sink, self._wall, self._asking)
        link = self._link = self._link_factory(next(iter(self._devices.values())).config)
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
                    if self._writes:
                        await self._do_writes(link)
                    if self._settling:
                        await self._watch_settling(link, loop)
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
            for write in list(self._writes):
                self._finish(write, CommandState.FAILED, "driver stopped")
            for settling in list(self._settling):
                self._end_watch(settling, "the driver stopped before it settled")

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
                    link, device, group, loop.time, self._wall, between=self._between_reads
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
        due = [g.next_due for _, g in self._schedule] + [s.next_read for s in self._settling]
        return min(due, default=loop.time() + 3600.0)

    async def _sleep_until(self, deadline: float) -> None:
        """Sleep until ``deadline`` or until something (a write, a change) wakes us."""
        if self._writes or self._stopping:
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
            for write in list(self._writes):
                self._finish(write, CommandState.FAILED, "device not connected")
            for settling in list(self._settling):
                # Confirmed as far as anyone can tell; the tag's quality says the rest.
                self._end_watch(settling, "the link was lost before it settled")
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
        """Queue a checked write at once; the line runs it between two scans, in order.

        The future always gets a result (never an exception): TIMED_OUT when the device
        has not answered the write within ``timeout``. A write read back as written is
        watched for ``settle`` seconds more (see the module docstring).
        """
        loop = asyncio.get_running_loop()
        write = _Write(device, plan, command, loop.create_future(), tag, settle, timeout)
        write.timer = loop.call_later(
            timeout, self._finish, write, CommandState.TIMED_OUT, f"no result within {timeout:g} s"
        )
        self._writes.append(write)
        self._poke()
        return write.future

    def _between_reads(self) -> Awaitable[list[str]] | None:
        """The writes queued during a scan, to run before its next read; None when none
        wait (asked before every read of a scan, so it must be cheap)."""
        link = self._link
        if not self._writes or link is None:
            return None
        return self._writes_in_scan(link)

    async def _writes_in_scan(self, link: ModbusLink) -> list[str]:
        """Run the waiting writes; their tags' blocks are decoded afresh at their next
        scan, since the scan in progress drops what it read of them before (even after a
        failed write: a timed-out one may have been carried out)."""
        written = await self._do_writes(link)
        for name in written:
            for device in self._devices.values():
                if name in device.points:
                    device.forget_data_of(name)
        return written

    async def _do_writes(self, link: ModbusLink) -> list[str]:
        """Run every queued write, in order; returns the names of the tags written to."""
        written: list[str] = []
        while self._writes:
            write = self._writes[0]
            device = self._devices.get(write.device)
            if device is None or write.future.done():
                self._finish(write, CommandState.FAILED, "device removed")
                continue
            written.append(write.command.tag)
            self._supersede(write)
            try:
                sample = await execute_write(link, device.config.unit_id, write.plan, self._wall())
            except ReadBackMismatch as exc:
                # Accepted, but the device holds another value: shown, never the written one.
                device.stats.answered()
                self._publish_device_value(device, write, exc.sample)
                if write.settle > 0:
                    message = overridden_message(exc.sample, write.tag)
                    self._finish(write, CommandState.OVERRIDDEN, message, exc.sample)
                else:
                    # settle 0: a pulse the device takes and clears itself; a PLC scan
                    # between the write and its read-back has cleared it already.
                    message = pulse_message(exc.sample, write.tag)
                    self._finish(write, CommandState.CONFIRMED, message, exc.sample)
            except DeviceException as exc:
                device.stats.error(exc.kind, str(exc), self._wall())
                self._finish(write, CommandState.FAILED, f"refused: {exc}")
            except CommError as exc:
                device.stats.error(
                    exc.kind if link.connected else "connection", str(exc), self._wall()
                )
                # No answer in time: the write may or may not have been carried out. A
                # wrong answer or a lost link: it was not, as far as anyone can tell.
                failed = isinstance(exc, NotConnected | MalformedReply)
                state = CommandState.FAILED if failed else CommandState.TIMED_OUT
                self._finish(write, state, str(exc))
            else:
                device.stats.answered()
                self._publish_device_value(device, write, sample)
                if write.settle > 0:
                    self._start_settling(device, write, sample)
                else:
                    self._finish(write, CommandState.CONFIRMED, "", sample)
            self._report(device)
        return written

    def _publish_device_value(self, device: DeviceState, write: _Write, sample: Sample) -> None:
        """Publish what the device holds now, and have the written point's block decoded
        at its next scan: its last raw answer predates the write, so an unchanged answer
        would not be decoded and the value read back would stay on the screens."""
        device.forget_data_of(write.command.tag)
        changed = device.filter.changed({write.command.tag: sample})
        if changed:
            self._sink.samples(changed)

    def _supersede(self, write: _Write) -> None:
        """A write to a point whose earlier write still settles: that one held until now
        (the value it will read next is this command's, not the device's own)."""
        for settling in [s for s in self._settling if s.write.device == write.device]:
            if settling.write.command.tag == write.command.tag:
                self._finish(
                    settling.write,
                    CommandState.CONFIRMED,
                    "held until the next write to it",
                    settling.sample,
                )

    def _end_watch(self, settling: _Settling, why: str) -> None:
        """Stop watching a write before its settle time is over: it was read back as
        written, so it is confirmed, and the note says what could not be checked."""
        message = f"read back as written; {why}"
        self._finish(settling.write, CommandState.CONFIRMED, message, settling.sample)

    def _start_settling(self, device: DeviceState, write: _Write, sample: Sample) -> None:
        """Watch ``write`` for its settle time; its own timeout now bounds the watch."""
        self._writes.remove(write)  # written: the next write may go while this one settles
        loop = asyncio.get_running_loop()
        now = loop.time()
        point = device.points.get(write.command.tag)
        group = device.groups.get(point.poll_group) if point is not None else None
        period = group.period if group is not None else write.settle
        interval = max(SETTLE_READ_MIN, min(period, write.settle / 4))
        self._settling.append(
            _Settling(write, now + write.settle, interval, now + interval, sample)
        )
        if write.timer is not None:
            write.timer.cancel()
        write.timer = loop.call_later(
            write.settle + write.timeout,
            self._finish,
            write,
            CommandState.TIMED_OUT,
            f"no result within {write.settle + write.timeout:g} s",
        )

    async def _watch_settling(self, link: ModbusLink, loop: asyncio.AbstractEventLoop) -> None:
        """Read every settling write that is due; decide those whose settle time is over."""
        for settling in [s for s in self._settling if s.next_read <= loop.time()]:
            write = settling.write
            device = self._devices.get(write.device)
            if write.future.done():
                continue  # timed out, or superseded during an earlier read of this loop
            if device is None:
                self._end_watch(settling, "the device was removed before it settled")
                continue
            point = write.plan.point
            try:
                data, sample = await read_point(link, device.config.unit_id, point, self._wall())
            except (DeviceException, CommError) as exc:
                # Read back as written before: confirmed, with what could not be checked.
                connected = link.connected or isinstance(exc, DeviceException)
                device.stats.error(exc.kind if connected else "connection", str(exc), self._wall())
                self._end_watch(settling, f"could not read it while it settled: {exc}")
                self._report(device)
                continue
            device.stats.answered()
            self._publish_device_value(device, write, sample)
            settling.sample = sample
            if not holds(write.plan, data, sample):
                message = overridden_message(sample, write.tag)
                self._finish(write, CommandState.OVERRIDDEN, message, sample)
            elif loop.time() >= settling.deadline:
                self._finish(write, CommandState.CONFIRMED, "", sample)
            else:
                settling.next_read = min(loop.time() + settling.interval, settling.deadline)
            self._report(device)

    def _finish(
        self, write: _Write, state: CommandState, message: str, sample: Sample | None = None
    ) -> None:
        if write in self._writes:
            self._writes.remove(write)
        self._settling = [s for s in self._settling if s.write is not write]
        if write.timer is not None:
            write.timer.cancel()
        if write.future.done():
            return
        command = write.command
        value = sample.value if sample is not None else None
        if sample is None and write.device in self._devices:
            old = self._devices[write.device].last.get(command.tag)
            value = old.value if old is not None else None
        write.future.set_result(
            CommandResult(command.id, command.tag, state, value, message, self._wall())
        )


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
