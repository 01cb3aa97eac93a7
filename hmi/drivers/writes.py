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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hmi.core.command import Command
from hmi.core.format import format_value
from hmi.core.identity import Identity, Unauthorized
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
from hmi.core.permissions import Grants, Permission
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.drivers.link import ModbusLink

#: returns why ``command`` may not write ``tag``, or None when it may
Authorizer = Callable[[Command, Tag], str | None]

#: the grants of the default roles (a manager built without a project's)
DEFAULT_GRANTS = Grants()


class Rejected(ValueError):
    """The command may not be executed; the message says why, for the operator."""


def write_refusal(identity: Identity, tag: Tag, grants: Grants) -> str | None:
    """Why ``identity`` may not write ``tag`` under ``grants``, or None when it may."""
    try:
        grants.authorize(identity, Permission.WRITE, tag.name, target_roles=tag.write_roles)
    except Unauthorized as exc:
        return str(exc)
    return None


def role_check(command: Command, tag: Tag) -> str | None:
    """The library default: the user and roles the command *claims*, under the default
    grants.

    It trusts the command, so it is for tests and benchmarks only; the driver actor
    checks every command with :func:`session_authorizer` of its verified session.
    """
    return write_refusal(Identity(command.user or "user", command.roles), tag, DEFAULT_GRANTS)


def session_authorizer(identity: Identity, grants: Grants = DEFAULT_GRANTS) -> Authorizer:
    """An authorizer for commands of a verified session: its user and roles decide.

    The user a command claims must be the session's (or none); the roles the command
    claims are ignored.
    """

    def authorize(command: Command, tag: Tag) -> str | None:
        if command.user and command.user != identity.user:
            return f"command claims user {command.user!r} but session is {identity.user!r}"
        return write_refusal(identity, tag, grants)

    return authorize


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
    why = authorize(command, tag)
    if why:
        raise Rejected(why)
    if tag.source is None:
        raise Rejected(f"{tag.name} has no device to write to")
    point = Point.from_tag(tag)
    if not point.table.writable:
        raise Rejected(f"{tag.name} is at {point.address}, which the protocol cannot write")
    value = command.value
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and not tag.limits.contains(value):  # type: ignore[arg-type]
        low, high = tag.limits.low, tag.limits.high
        raise Rejected(f"{value} is outside the limits {low}..{high} of {tag.name}")
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


def overridden_message(sample: Sample, tag: Tag | None) -> str:
    """What an operator reads when the device holds another value than the one written."""
    return f"overridden by device: reads {format_value(sample.value, tag, with_unit=True)}"


def pulse_message(sample: Sample, tag: Tag | None) -> str:
    """A pulse (``settle: 0``) the device took and cleared before its read-back."""
    return f"a pulse: the device reads {format_value(sample.value, tag, with_unit=True)} again"


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
    block = Block(point.table, point.start, point.size, (point,))
    return data, decode_block(block, data, now)[point.tag]


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
