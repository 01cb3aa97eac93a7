"""Closed-loop writes compare the device's value over a settle time (issue 14, item 2).

Against the real simulated plant (the ``plant`` fixture): its PLC overrides FV-101's
command while LIC-101 is in AUTO. A write the device does not hold is OVERRIDDEN with the
value it holds, and what is published (what screens show) is always the device's value.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping
from typing import Any

import pytest
from pymodbus.datastore import ModbusSequentialDataBlock

from hmi.app.plant import with_simulated_devices
from hmi.core.command import SETTLE_DEFAULT_MAX, Command, CommandResult, CommandState, settle_time
from hmi.core.sample import Sample
from hmi.drivers.manager import DriverManager
from hmi.project import load_project
from hmi.testing import RunningPlant
from tests.drivers.helpers import datastore, free_port, pymodbus_server
from tests.widgets.support import DEMO

VALVE = "area1/fv101/command"
_ids = itertools.count(1)


class Sink:
    """What the driver publishes: every batch, in order."""

    def __init__(self) -> None:
        self.batches: list[Mapping[str, Sample]] = []

    def samples(self, batch: Mapping[str, Sample]) -> None:
        self.batches.append(dict(batch))

    def status(self, status: Any) -> None:
        pass

    def latest(self, tag: str) -> Any:
        values = [b[tag].value for b in self.batches if tag in b]
        return values[-1] if values else None


def _write(manager: DriverManager, tag: str, value: Any) -> asyncio.Future[CommandResult]:
    command = Command(f"c{next(_ids)}", tag, value, user="op", roles=frozenset({"operator"}))
    return manager.submit(command)


async def _manager(plant: RunningPlant) -> tuple[DriverManager, Sink]:
    project = with_simulated_devices(load_project(DEMO), plant.host, plant.port)
    sink = Sink()
    manager = DriverManager.for_project(project, sink)
    await manager.start()
    deadline = time.monotonic() + 5
    while sink.latest(VALVE) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return manager, sink


@pytest.mark.plant(speed=1.0)
def test_a_write_the_plc_overrides_is_overridden_with_the_value_the_device_holds(plant):
    plant.write("area1/lic101/sp", 2.5)  # at the level: the controller's output is ~0 %
    plant.write("area1/lic101/auto", True)

    async def main() -> None:
        manager, sink = await _manager(plant)
        try:
            started = time.monotonic()
            result = await asyncio.wait_for(_write(manager, VALVE, 100.0), 10)
            took = time.monotonic() - started
            assert result.state is CommandState.OVERRIDDEN, result
            assert result.value is not None and result.value < 5.0  # the PLC's output
            assert result.message == f"overridden by device: reads {result.value:.1f} %"
            # Answered once a read saw it move: within the settle time (2 s) and a margin
            # for a loaded machine (what the state is matters, above; not the speed).
            assert took < 2.0 + 1.5
            # What screens get last is the device's value, never the 100.0 written.
            assert sink.latest(VALVE) == pytest.approx(result.value, abs=1.0)
            await asyncio.sleep(1.5)  # a scan or two later: still the device's value
            assert sink.latest(VALVE) < 5.0
        finally:
            await manager.stop()

    asyncio.run(main())


def test_a_held_write_is_confirmed_after_its_settle_time_a_pulse_at_once(plant):
    # Time stands still (no speed): the PLC does not scan, the device holds what it got.
    async def main() -> None:
        manager, _ = await _manager(plant)
        try:
            started = time.monotonic()
            result = await asyncio.wait_for(_write(manager, VALVE, 40.0), 10)
            took = time.monotonic() - started
            assert (result.state, result.value, result.message) == (
                CommandState.CONFIRMED,
                40.0,
                "",
            )
            # The demo's normal poll group is 1 s: watched for two periods before it counts.
            assert 2.0 <= took < 10  # never before the settle time; the bound is wait_for's
            # The pump's reset is a pulse the PLC clears itself: `settle: 0` in the project.
            started = time.monotonic()
            reset = await asyncio.wait_for(_write(manager, "area1/p101/reset", True), 10)
            # not watched at all: well under the 2 s a held write waits
            assert reset.state is CommandState.CONFIRMED and time.monotonic() - started < 2.0
        finally:
            await manager.stop()

    asyncio.run(main())


def test_a_value_the_plc_puts_back_later_still_reaches_the_screens(plant):
    """The written point's block is decoded afresh at its next scan: the PLC putting back
    the very registers the scan before the write had read is a change all the same (the
    driver used to skip the unchanged block, and screens kept the written value)."""
    reset = "area1/p101/reset"

    async def main() -> None:
        manager, sink = await _manager(plant)
        try:
            assert sink.latest(reset) is False
            result = await asyncio.wait_for(_write(manager, reset, True), 10)
            assert result.state is CommandState.CONFIRMED  # read back as written
            assert sink.latest(reset) is True
            plant.advance(0.2)  # the PLC's scan clears the pulse: the coil reads 0 again
            assert plant.read(reset) is False
            # Another master (or the PLC) puts the valve command back where it was, too.
            written = await asyncio.wait_for(_write(manager, VALVE, 40.0), 10)
            assert written.state is CommandState.CONFIRMED
            plant.write(VALVE, 0.0)
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline and (
                sink.latest(reset) is not False or sink.latest(VALVE) != 0.0
            ):
                await asyncio.sleep(0.05)
            assert (sink.latest(reset), sink.latest(VALVE)) == (False, 0.0)
        finally:
            await manager.stop()

    asyncio.run(main())


def test_a_write_superseded_by_the_next_one_is_no_override(plant):
    """Two commands to one point in a row: the first held until the second replaced it."""

    async def main() -> None:
        manager, sink = await _manager(plant)
        try:
            first, second = _write(manager, VALVE, 30.0), _write(manager, VALVE, 35.0)
            one, two = await asyncio.wait_for(asyncio.gather(first, second), 10)
            assert (one.state, one.value, one.message) == (
                CommandState.CONFIRMED,
                30.0,
                "held until the next write to it",
            )
            assert (two.state, two.value) == (CommandState.CONFIRMED, 35.0)
            assert sink.latest(VALVE) == 35.0
        finally:
            await manager.stop()

    asyncio.run(main())


PULSES = """\
name: pulses
devices:
  - {{name: plc, port: {port}, timeout: 0.3, retries: 0}}
tags:
  - {{name: a/p/reset, type: bool, device: plc, address: "co:1", settle: 0,
     write_roles: [operator]}}
  - {{name: a/p/run, type: bool, device: plc, address: "co:2", write_roles: [operator]}}
"""


class ClearingCoils(ModbusSequentialDataBlock):
    """Coils a PLC clears before anyone can read them back (a scan between the write and
    its read-back): a write is acknowledged, the coil stays off."""

    def setValues(self, address: int, values: Any) -> None:
        super().setValues(address, [False] * len(values))


def test_a_pulse_cleared_before_its_read_back_is_confirmed_a_command_is_overridden(tmp_path):
    port = free_port()
    path = tmp_path / "p.yaml"
    path.write_text(PULSES.format(port=port))
    project = load_project(path)
    context = datastore()
    context.store["c"] = ClearingCoils(1, [False] * 64)

    async def main() -> None:
        async with pymodbus_server(port, context):
            sink = Sink()
            manager = DriverManager.for_project(project, sink)
            await manager.start()
            try:
                deadline = time.monotonic() + 5
                while sink.latest("a/p/run") is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                reset = await asyncio.wait_for(_write(manager, "a/p/reset", True), 5)
                assert (reset.state, reset.value, reset.message) == (
                    CommandState.CONFIRMED,
                    False,
                    "a pulse: the device reads OFF again",
                )
                run = await asyncio.wait_for(_write(manager, "a/p/run", True), 5)
                assert (run.state, run.value, run.message) == (
                    CommandState.OVERRIDDEN,
                    False,
                    "overridden by device: reads OFF",
                )
                assert sink.latest("a/p/run") is False  # never the True written
            finally:
                await manager.stop()

    asyncio.run(main())


def test_settle_time_is_the_tags_else_the_devices_else_two_polls_at_most_a_few_seconds():
    assert settle_time(0.0, 4.0, 1.0) == 0.0
    assert settle_time(None, 4.0, 1.0) == 4.0
    assert settle_time(None, None, 0.2) == pytest.approx(0.4)
    assert settle_time(None, None, 10.0) == SETTLE_DEFAULT_MAX
