"""The writes of one Modbus line: queued in order, run between two reads, read back,
watched while they settle (the rules are :mod:`hmi.drivers.line`'s docstring).

A :class:`LineWrites` belongs to one :class:`~hmi.drivers.line.Line`, whose task runs
it: :meth:`LineWrites.run` between scans, :meth:`LineWrites.between_reads` between two
reads of a scan, :meth:`LineWrites.watch_settling` when a settle read is due. Every
write's future gets a result, never an exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.drivers.device import DeviceState
from hmi.drivers.errors import CommError, DeviceException, MalformedReply, NotConnected
from hmi.drivers.link import ModbusLink
from hmi.drivers.sink import Sink
from hmi.drivers.write_checks import SETTLE_READ_MIN, overridden_message, pulse_message
from hmi.drivers.writes import ReadBackMismatch, WritePlan, execute_write, holds, read_point


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


class LineWrites:
    """The queued and settling writes of one line."""

    def __init__(
        self,
        devices: Mapping[str, DeviceState],
        sink: Sink,
        wall: Callable[[], float],
        report: Callable[[DeviceState], None],
        poke: Callable[[], None],
    ) -> None:
        #: the line's devices (the line's own mapping: devices come and go)
        self._devices = devices
        self._sink = sink
        self._wall = wall
        #: publish a device's status if it changed; wake the line's task
        self._report = report
        self._poke = poke
        #: the line's link while its task runs
        self.link: ModbusLink | None = None
        self._writes: list[_Write] = []
        self._settling: list[_Settling] = []

    @property
    def pending(self) -> bool:
        """True when a write waits to be sent."""
        return bool(self._writes)

    @property
    def settling(self) -> bool:
        """True when a write is watched while it settles."""
        return bool(self._settling)

    def next_reads(self) -> list[float]:
        """When each settling write is due to be read again (loop time)."""
        return [s.next_read for s in self._settling]

    def end_all(self, message: str, settle_note: str, device: str | None = None) -> None:
        """Answer every queued write (of ``device``, else of the line) FAILED ``message``
        after its device's name; end every watch of them CONFIRMED (read back as written)
        with ``settle_note``."""
        for write in [w for w in self._writes if device is None or w.device == device]:
            self._finish(write, CommandState.FAILED, f"{write.device}: {message}")
        for settling in [s for s in self._settling if device is None or s.write.device == device]:
            self._end_watch(settling, settle_note)

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
        watched for ``settle`` seconds more (see :mod:`hmi.drivers.line`).
        """
        loop = asyncio.get_running_loop()
        write = _Write(device, plan, command, loop.create_future(), tag, settle, timeout)
        write.timer = loop.call_later(
            timeout, self._finish, write, CommandState.TIMED_OUT, f"no result within {timeout:g} s"
        )
        self._writes.append(write)
        self._poke()
        return write.future

    def between_reads(self) -> Awaitable[list[str]] | None:
        """The writes queued during a scan, to run before its next read; None when none
        wait (asked before every read of a scan, so it must be cheap)."""
        link = self.link
        if not self._writes or link is None:
            return None
        return self._writes_in_scan(link)

    async def _writes_in_scan(self, link: ModbusLink) -> list[str]:
        """Run the waiting writes; their tags' blocks are decoded afresh at their next
        scan, since the scan in progress drops what it read of them before (even after a
        failed write: a timed-out one may have been carried out)."""
        written = await self.run(link)
        for name in written:
            for device in self._devices.values():
                if name in device.points:
                    device.forget_data_of(name)
        return written

    async def run(self, link: ModbusLink) -> list[str]:
        """Run every queued write, in order; returns the names of the tags written to."""
        written: list[str] = []
        while self._writes:
            write = self._writes[0]
            device = self._devices.get(write.device)
            if device is None or write.future.done():
                self._finish(write, CommandState.FAILED, f"{write.device}: removed from the driver")
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

    async def watch_settling(self, link: ModbusLink, loop: asyncio.AbstractEventLoop) -> None:
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
