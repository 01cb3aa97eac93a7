"""OPC UA writes with read-back, settle watch and the shared result words.

The manager has checked the command (session, rights, limits) and the plug-in has made
an :class:`OpcUaWrite` (:func:`plan_write`: the raw value in the tag's OPC UA type). The
line's :class:`WriteRunner` sends it in the node's own data type when the line knows it
(:mod:`hmi.drivers.opcua.node_types`), reads the node back and compares: a server that
holds another value answers OVERRIDDEN (a pulse, ``settle: 0``, CONFIRMED with a note),
as Modbus does; one that holds it is watched for the settle time (reads every poll
period, at least four over the settle time) before CONFIRMED. A server that refuses the
write (``BadUserAccessDenied``, ``BadTypeMismatch``, ``BadNotWritable``) answers FAILED
with the code's name; no answer in time TIMED_OUT (it may have been carried out).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import get_name_and_doc
from asyncua.ua.uaerrors import UaStatusCodeError

from hmi.core.address import ProtocolAddress
from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.sample import Sample, Value
from hmi.core.tag import Tag
from hmi.drivers.opcua.items import code_quality, posix
from hmi.drivers.opcua.node_types import as_node_type
from hmi.drivers.opcua.values import VARIANT_TYPES, Mismatch, converter, encode_value
from hmi.drivers.write_checks import SETTLE_READ_MIN, Rejected, overridden_message, pulse_message

if TYPE_CHECKING:
    from hmi.drivers.opcua.line import OpcUaLine

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OpcUaWrite:
    """What to write: the node, the OPC UA type and the raw value."""

    node: str
    variant: str
    value: Value


def plan_write(command: Command, tag: Tag) -> OpcUaWrite:
    """The write of a checked ``command``; :class:`Rejected` for a value the tag's type
    cannot hold."""
    source = tag.source
    if source is None or not isinstance(source.address, ProtocolAddress):
        raise Rejected(f"{tag.name} is not an OPC UA tag")
    raw = encode_value(tag, command.value)
    return OpcUaWrite(source.address.text, VARIANT_TYPES[tag.data_type], raw)


@dataclass(eq=False)
class _Write:
    plan: OpcUaWrite
    command: Command
    future: asyncio.Future[CommandResult]
    tag: Tag | None
    settle: float
    timeout: float
    timer: asyncio.TimerHandle | None = None
    watch: asyncio.Task[None] | None = None
    #: the server's value as last read (the read-back, then each settle read)
    sample: Sample | None = None
    #: the value sent, in the node's type
    sent: Value = None


class WriteRunner:
    """The writes of one line: queued in order, run by the line's task between its
    other work, watched while they settle (one task per settling write)."""

    def __init__(self, line: OpcUaLine) -> None:
        self._line = line
        self._queue: deque[_Write] = deque()
        self._settling: list[_Write] = []

    @property
    def pending(self) -> bool:
        """True when a write waits to be sent."""
        return bool(self._queue)

    def submit(
        self, plan: OpcUaWrite, command: Command, timeout: float, tag: Tag | None, settle: float
    ) -> asyncio.Future[CommandResult]:
        """Queue a write; the future always gets a result."""
        loop = asyncio.get_running_loop()
        write = _Write(plan, command, loop.create_future(), tag, settle, timeout)
        write.timer = loop.call_later(
            timeout, self._finish, write, CommandState.TIMED_OUT, f"no result within {timeout:g} s"
        )
        self._queue.append(write)
        return write.future

    async def run(self, client: Client) -> None:
        """Send every queued write, in order."""
        while self._queue:
            write = self._queue.popleft()
            if write.future.done():
                continue
            self._supersede(write)
            await self._execute(client, write)

    async def _execute(self, client: Client, write: _Write) -> None:
        line, plan = self._line, write.plan
        node = client.get_node(plan.node)
        node_type = line.node_type(plan.node) or plan.variant
        try:
            value = as_node_type(plan.value, node_type)
        except ValueError as exc:
            self._finish(write, CommandState.FAILED, f"{line.name}: {plan.node}: {exc}")
            return
        write.sent = value
        variant = ua.Variant(value, getattr(ua.VariantType, node_type))
        started = time.monotonic()
        try:
            await asyncio.wait_for(
                node.write_attribute(AttributeIds.Value, ua.DataValue(variant)), write.timeout
            )
        except UaStatusCodeError as exc:
            name = get_name_and_doc(exc.code)[0] if exc.code is not None else type(exc).__name__
            why = f"refused: {line.name}: {name} for write {plan.node} = {value!r}"
            self._finish(write, CommandState.FAILED, why)
            return
        except TimeoutError:
            self._finish(write, CommandState.TIMED_OUT, f"{line.name}: no answer to the write")
            return
        except (ConnectionError, OSError) as exc:
            self._finish(write, CommandState.FAILED, f"{line.name}: not connected ({exc})")
            return
        try:
            raw, sample = await self._read(client, write)
        except Exception as exc:
            # Written, but not read back: nobody can tell what the server holds.
            why = f"{line.name}: written, but the read-back failed ({type(exc).__name__})"
            self._finish(write, CommandState.FAILED, why)
            return
        if line.stats is not None:
            line.stats.ok(time.monotonic() - started)
        line.publish_value(write.command.tag, sample)
        write.sample = sample
        if raw != value:
            if write.settle > 0:
                message = overridden_message(sample, write.tag)
                self._finish(write, CommandState.OVERRIDDEN, message, sample)
            else:
                message = pulse_message(sample, write.tag)
                self._finish(write, CommandState.CONFIRMED, message, sample)
        elif write.settle > 0:
            self._settling.append(write)
            write.watch = asyncio.get_running_loop().create_task(
                self._watch(client, write), name=f"settle {write.command.tag}"
            )
        else:
            self._finish(write, CommandState.CONFIRMED, "", sample)

    async def _read(self, client: Client, write: _Write) -> tuple[object, Sample]:
        """The node's raw value and its sample for the tag."""
        value = await asyncio.wait_for(
            client.get_node(write.plan.node).read_data_value(raise_on_bad_status=False),
            write.timeout,
        )
        line = self._line
        now = time.time()
        raw = value.Value.Value if value.Value is not None else None
        quality = code_quality(value.StatusCode.value if value.StatusCode else 0, line.name)
        source = posix(value.SourceTimestamp) or posix(value.ServerTimestamp) or now
        tag = write.tag or line.tags.get(write.command.tag)
        try:
            converted = converter(tag)(raw) if tag is not None else raw
        except Mismatch:
            converted = None
        return raw, Sample(converted, quality, source, now)

    async def _watch(self, client: Client, write: _Write) -> None:
        """Read the node until the settle time is over; OVERRIDDEN at the first change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + write.settle
        interval = max(
            SETTLE_READ_MIN, min(self._line.period_of(write.command.tag), write.settle / 4)
        )
        if write.timer is not None:
            write.timer.cancel()  # the watch is bounded by the settle time now
        while not write.future.done():
            await asyncio.sleep(min(interval, max(0.0, deadline - loop.time())))
            try:
                raw, sample = await self._read(client, write)
            except Exception as exc:
                self._end_watch(write, f"could not read it while it settled ({type(exc).__name__})")
                return
            write.sample = sample
            self._line.publish_value(write.command.tag, sample)
            if raw != write.sent:
                message = overridden_message(sample, write.tag)
                self._finish(write, CommandState.OVERRIDDEN, message, sample)
            elif loop.time() >= deadline:
                self._finish(write, CommandState.CONFIRMED, "", sample)

    def _supersede(self, write: _Write) -> None:
        """A new write to a point still settling: the earlier one held until now."""
        for other in [w for w in self._settling if w.command.tag == write.command.tag]:
            self._finish(
                other, CommandState.CONFIRMED, "held until the next write to it", other.sample
            )

    def _end_watch(self, write: _Write, why: str) -> None:
        self._finish(write, CommandState.CONFIRMED, f"read back as written; {why}", write.sample)

    def fail_all(self, message: str, settle_note: str) -> None:
        """Answer every queued write FAILED ``message`` after the device's name; end every
        watch (confirmed: read back as written) with ``settle_note``."""
        while self._queue:
            write = self._queue.popleft()
            self._finish(write, CommandState.FAILED, f"{self._line.name}: {message}")
        for write in list(self._settling):
            self._end_watch(write, settle_note)

    def _finish(
        self, write: _Write, state: CommandState, message: str, sample: Sample | None = None
    ) -> None:
        if write in self._settling:
            self._settling.remove(write)
        if write.timer is not None:
            write.timer.cancel()
        if write.watch is not None and write.watch is not asyncio.current_task():
            write.watch.cancel()
        if write.future.done():
            return
        command = write.command
        value = sample.value if sample is not None else None
        if sample is None:
            old = self._line.last_samples(self._line.name).get(command.tag)
            value = old.value if old is not None else None
        write.future.set_result(
            CommandResult(command.id, command.tag, state, value, message, time.time())
        )
