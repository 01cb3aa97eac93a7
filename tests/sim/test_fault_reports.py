"""What a commissioning engineer reads while faults run: one line when a fault fires, one
when it ends (its time is over, it is cleared, or a tripped pump is reset)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from hmi.sim.unit import SimUnit


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hmi.sim.faults"]


def test_a_timed_fault_reports_when_it_fires_and_when_its_time_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hmi.sim.faults")
    unit = SimUnit(2)
    unit.advance(5.0)
    unit.faults.inject("comm_loss", 3.0)
    unit.faults.inject("freeze", None, sensor="level")
    unit.advance(2.9)
    assert _lines(caplog) == [
        "unit 2: fault comm_loss fired at t=5.0 s, for 3 s",
        "unit 2: fault freeze(level) fired at t=5.0 s, until cleared",
    ]
    unit.advance(0.2)
    unit.faults.clear("freeze")
    assert _lines(caplog)[2:] == [
        "unit 2: fault comm_loss ended at t=8.0 s: its time is over",
        "unit 2: fault freeze(level) ended at t=8.1 s: cleared",
    ]


def test_a_pump_trip_is_latched_until_the_reset_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hmi.sim.faults")
    unit = SimUnit(1)
    unit.plant.write("pump_run", True)
    unit.advance(1.0)
    unit.faults.inject("pump_trip", 5.0)
    unit.advance(10.0)
    assert unit.plant.read("pump_tripped") is True
    (fired,) = _lines(caplog)
    assert fired.startswith("unit 1: fault pump_trip fired at t=1.0 s: P-101 tripped, latched")
    assert "a duration (5 s) does not apply" in fired
    unit.plant.write("pump_reset", True)
    unit.advance(0.5)
    assert _lines(caplog)[1:] == ["unit 1: fault pump_trip ended at t=11.5 s: P-101 was reset"]


def test_hmi_sim_prints_a_line_when_a_fault_fires_and_when_it_ends() -> None:
    args = "sim --port 0 --speed 20 --duration 8 --fault pump_trip@5 --fault comm_loss@3"
    result = subprocess.run(
        [sys.executable, "-m", "hmi", *args.split()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    log = result.stderr
    assert "unit 1: fault pump_trip fired at t=0.0 s: P-101 tripped" in log
    assert "unit 1: fault comm_loss fired at t=0.0 s, for 3 s" in log
    assert "unit 1: fault comm_loss ended at t=3.0 s: its time is over" in log


def test_faults_from_the_control_registers_are_reported_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from hmi.core.address import Table

    caplog.set_level(logging.INFO, logger="hmi.sim.faults")
    unit = SimUnit(1)
    unit.write(Table.HOLDING_REGISTER, 101, [500])  # answer 500 ms late
    unit.write(Table.HOLDING_REGISTER, 104, [0b10000])  # noisy temperature
    unit.write(Table.HOLDING_REGISTER, 101, [0])
    assert _lines(caplog) == [
        "unit 1: fault slow(0.5 s) fired at t=0.0 s, until cleared",
        "unit 1: fault noise(temperature, 2.0% of span) fired at t=0.0 s, until cleared",
        "unit 1: fault slow(0.5 s) ended at t=0.0 s: cleared",
    ]
