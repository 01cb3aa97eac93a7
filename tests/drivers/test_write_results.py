"""Every write gets a result (issue 15, item 5).

A value the tag's type cannot hold is REJECTED with the reason, before anything is sent
(a float32 beyond its range raised OverflowError: no result, a traceback); a fraction
written to an integer tag is refused, not rounded (12.7 became 13 and was confirmed); a
write the device answers wrongly FAILED with what was wrong.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.tag import DataType
from hmi.drivers import manager as manager_module
from hmi.drivers.manager import DriverManager
from tests.drivers.helpers import (
    RecordingSink,
    datastore,
    device,
    free_port,
    pymodbus_server,
    tag,
)
from tests.drivers.hostile import hostile

GROUPS = {"fast": 0.05}
OPERATOR = frozenset({"operator"})
_ids = itertools.count(1)

FLOAT = "w/plc/float"
COUNT = "w/plc/count"
TAGS = [
    tag(FLOAT, "plc", "hr:10", DataType.FLOAT32, write_roles=OPERATOR),
    tag(COUNT, "plc", "hr:20", DataType.UINT16, write_roles=OPERATOR),
]


def command(tag_name: str, value: Any) -> Command:
    return Command(f"w{next(_ids)}", tag_name, value, user="op", roles=OPERATOR)


async def write(manager: DriverManager, tag_name: str, value: Any) -> CommandResult:
    return await asyncio.wait_for(manager.write(command(tag_name, value)), 5.0)


def test_values_the_type_cannot_hold_are_rejected_with_a_reason_and_never_sent() -> None:
    context = datastore(hr=[7] * 200)

    async def main() -> None:
        port = free_port()
        async with pymodbus_server(port, context):
            sink = RecordingSink()
            manager = DriverManager(sink, GROUPS)
            manager.add_device(device("plc", port), TAGS)
            await manager.start()
            try:
                await sink.wait(lambda: COUNT in sink.latest and sink.value(COUNT) == 7)
                cases = [
                    (FLOAT, 1e39, "w/plc/float: 1e+39 does not fit float32"),
                    (FLOAT, -3.5e38, "w/plc/float: -3.5e+38 does not fit float32"),
                    (
                        COUNT,
                        12.7,
                        "w/plc/count: 12.7 is not an integer; uint16 takes whole numbers",
                    ),
                    (COUNT, 70000, "w/plc/count: 70000 does not fit uint16 (0..65535)"),
                    (COUNT, -1, "w/plc/count: -1 does not fit uint16 (0..65535)"),
                ]
                for name, value, reason in cases:
                    result = await write(manager, name, value)
                    assert result.state is CommandState.REJECTED, (value, result)
                    assert result.message.startswith(reason), (value, result)
                # nothing was written: the registers hold what they held
                registers = context.getValues(3, 10, 11)
                assert registers == [7] * 11, registers
                # a whole number, and a float32 within range, go through
                whole = await write(manager, COUNT, 13.0)
                assert (whole.state, whole.value) == (CommandState.CONFIRMED, 13)
                big = await write(manager, FLOAT, 3.0e38)
                assert big.state is CommandState.CONFIRMED, big
                assert big.value == pytest.approx(3.0e38, rel=1e-6)
            finally:
                await manager.stop()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("wrong_function", "plc: wrong reply to write hr:20: function code 3, expected 6"),
        ("wrong_echo", "plc: wrong reply to write hr:20: address 21, expected 20"),
        ("wrong_exception", "expected function code 6"),
        ("unknown_function", "plc: wrong reply to write hr:20: unknown function code 65"),
    ],
)
def test_a_write_answered_wrongly_fails_with_what_was_wrong(mode: str, message: str) -> None:
    async def main() -> None:
        port = free_port()
        async with hostile(port, "ok") as dev:
            sink = RecordingSink()
            manager = DriverManager(sink, GROUPS)
            manager.add_device(device("plc", port), TAGS)
            await manager.start()
            try:
                await sink.wait(lambda: COUNT in sink.latest and sink.value(COUNT) == 20)
                dev.mode = mode
                result = await write(manager, COUNT, 5)
                assert result.state is CommandState.FAILED, result
                assert message in result.message, result
            finally:
                await manager.stop()

    asyncio.run(main())


def test_a_write_that_cannot_be_planned_still_gets_a_result(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in checking a command must not leave the operator without an answer."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ArithmeticError("a bug")

    monkeypatch.setattr(manager_module, "check_write", broken)

    async def main() -> None:
        manager = DriverManager(RecordingSink(), GROUPS)
        manager.add_device(device("plc", free_port()), TAGS)
        result = await write(manager, COUNT, 5)
        assert result.state is CommandState.REJECTED, result
        assert result.message == "w/plc/count: the write could not be checked (ArithmeticError)"

    asyncio.run(main())
    assert any(r.exc_info for r in caplog.records)  # a bug: its traceback, once
