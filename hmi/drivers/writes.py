"""Closed-loop writes: check a command against its tag, then write, read back, compare.

The checks are pure (rights, limits, encoding); :func:`execute_write` does the I/O on a
link the caller owns, so the line can run it between two scans and never in the middle
of one. A read-back that matches is not the end: the device's logic may override the
command a scan later (a controller in AUTO writes its own output), so the line keeps
reading the point for the tag's settle time (:func:`read_point`, :func:`holds`) before
it calls the write confirmed; a value that moved away is *overridden*.

Who may write is decided by the project's grants, one rule for every writer and
the GUI: :meth:`hmi.core.permissions.Grants.authorize` with the ``write`` permission and
the tag's ``write_roles``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from hmi.core.command import Command
from hmi.core.modbus import (
    Block,
    CodecError,
    FunctionCode,
    Point,
    decode_block,
    encode_bit,
    encode_registers,
    set_register_bit,
)
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.drivers.link import ModbusLink
from hmi.drivers.write_checks import Authorizer, Rejected, check_write, role_check

__all__ = [
    "ReadBackMismatch",
    "WritePlan",
    "encode_write",
    "execute_write",
    "holds",
    "plan_write",
    "read_point",
]


@dataclass(frozen=True, slots=True)
class WritePlan:
    """What to send: function code, the point, and the raw registers or bit state."""

    point: Point
    function: FunctionCode
    registers: tuple[int, ...] = ()
    state: bool = False

    def describe(self) -> str:
        """E.g. ``FC6 hr:10 = [2500]`` for logs and results."""
        raw = list(self.registers) if self.registers else self.state
        return f"FC{int(self.function)} {self.point.address} = {raw}"


def plan_write(
    command: Command, tag: Tag, authorize: Authorizer = role_check, *, multiple: bool = False
) -> WritePlan:
    """Check ``command`` and return what to write; raise :class:`Rejected` if it may not.

    ``multiple`` uses FC 15/16 even for one coil or register (some devices lack 5/6).
    """
    check_write(command, tag, authorize)
    return encode_write(command, tag, multiple=multiple)


def encode_write(command: Command, tag: Tag, *, multiple: bool = False) -> WritePlan:
    """The Modbus request of a checked ``command``; :class:`Rejected` for a value the
    point's type cannot hold."""
    point = Point.from_tag(tag)
    if not point.table.writable:
        raise Rejected(f"{tag.name} is at {point.address}, which the protocol cannot write")
    value = command.value
    try:
        if point.table.is_bits:
            state = encode_bit(point, value)
            function = (
                FunctionCode.WRITE_MULTIPLE_COILS if multiple else FunctionCode.WRITE_SINGLE_COIL
            )
            return WritePlan(point, function, state=state)
        if point.address.bit is not None:
            # read-modify-write of one register bit, done by execute_write
            return WritePlan(
                point, FunctionCode.WRITE_SINGLE_REGISTER, state=encode_bit(point, value)
            )
        registers = tuple(encode_registers(point, value))
    except CodecError as exc:
        raise Rejected(str(exc)) from None
    single = len(registers) == 1 and not multiple
    function = (
        FunctionCode.WRITE_SINGLE_REGISTER if single else FunctionCode.WRITE_MULTIPLE_REGISTERS
    )
    return WritePlan(point, function, registers=registers)


class ReadBackMismatch(Exception):
    """The device accepted the write but reads back something else (``sample``)."""

    def __init__(self, message: str, sample: Sample) -> None:
        super().__init__(message)
        self.sample = sample


def holds(plan: WritePlan, data: Sequence[int] | Sequence[bool], sample: Sample) -> bool:
    """True when the device's ``data`` (its ``sample``) is what ``plan`` wrote."""
    if plan.registers:
        return tuple(int(v) for v in data[: plan.point.size]) == plan.registers
    return sample.value == plan.state


async def read_point(
    link: ModbusLink, unit: int, point: Point, now: float
) -> tuple[list[int] | list[bool], Sample]:
    """Read one point: its raw registers (bits) and its decoded sample."""
    data = await link.read(unit, point.table, point.start, point.size)
    return data, decode_block(_block_of(point), data, now)[point.tag]


@functools.lru_cache(maxsize=1024)
def _block_of(point: Point) -> Block:
    """The one-point block a read-back decodes with: its decoder is compiled once per
    point, not at every write (points are frozen and compared by value)."""
    return Block(point.table, point.start, point.size, (point,))


async def execute_write(link: ModbusLink, unit: int, plan: WritePlan, now: float) -> Sample:
    """Write, read back, and return the read-back sample; raise on mismatch or errors.

    Raises :class:`ReadBackMismatch` (the device holds another value), or the link's
    DeviceException / CommError.
    """
    point = plan.point
    address = point.start
    if plan.function is FunctionCode.WRITE_SINGLE_COIL:
        await link.write_coil(unit, address, plan.state)
    elif plan.function is FunctionCode.WRITE_MULTIPLE_COILS:
        await link.write_coils(unit, address, [plan.state])
    elif point.address.bit is not None:
        [current] = await link.read(unit, point.table, address, 1)
        await link.write_register(
            unit, address, set_register_bit(int(current), point.address.bit, plan.state)
        )
    elif plan.function is FunctionCode.WRITE_SINGLE_REGISTER:
        await link.write_register(unit, address, plan.registers[0])
    else:
        await link.write_registers(unit, address, plan.registers)
    data, sample = await read_point(link, unit, point, now)
    if not holds(plan, data, sample):
        raise ReadBackMismatch(f"wrote {plan.describe()}, read back {sample.value!r}", sample)
    return sample
