"""The PLC part: LIC-101 control, the interlocks, the trip latch and valve deviation."""

from __future__ import annotations

import pytest

from hmi.sim.plant import Plant


def test_level_controller_in_auto_reaches_its_setpoint_against_the_pump() -> None:
    plant = Plant.create(level=1.5)
    plant.write("pump_run", True)
    plant.write("level_sp", 3.0)
    plant.write("lic_auto", True)
    plant.advance(1800)
    assert plant.read("level") == pytest.approx(3.0, abs=0.02)
    # The valve passes what the pump takes out (HV-102 at 75 % of 12 m³/h).
    assert plant.read("inflow") == pytest.approx(9.0, abs=0.1)
    assert plant.read("valve_command") == plant.read("lic_output")


def test_switching_to_auto_is_bumpless() -> None:
    plant = Plant.create(level=2.5)
    plant.write("valve_command", 40)
    plant.write("level_sp", 2.5)
    plant.advance(1)
    plant.write("lic_auto", True)
    plant.advance(0.1)
    assert plant.read("lic_output") == pytest.approx(40, abs=0.5)


def test_pump_trips_on_low_low_level_and_needs_a_reset() -> None:
    plant = Plant.create(level=0.6)
    plant.write("pump_run", True)
    plant.advance(600)
    assert plant.read("level_ll") is True
    assert plant.read("pump_tripped") is True
    assert plant.read("pump_running") is False
    assert plant.read("pump_run") is False  # the trip drops the run command
    plant.write("pump_reset", True)
    plant.advance(0.1)
    assert plant.read("pump_tripped") is True  # level still low-low: reset refused
    assert plant.read("pump_reset") is False  # the PLC clears the pulse anyway
    plant.write("valve_command", 100)
    plant.advance(120)
    plant.write("pump_reset", True)
    plant.advance(0.1)
    assert plant.read("pump_tripped") is False


def test_heater_is_interlocked_on_low_level() -> None:
    plant = Plant.create(level=0.8)
    plant.write("heater_enable", True)
    plant.write("heater_command", 100)
    plant.advance(60)
    assert plant.read("heater_interlock") is True
    assert plant.read("heater_on") is False
    assert plant.read("heater_power") == 0.0
    plant.write("valve_command", 100)
    plant.advance(120)
    assert plant.read("heater_on") is True
    assert float(plant.read("heater_power")) > 50


def test_high_high_level_closes_the_inlet_valve() -> None:
    plant = Plant.create(level=4.4)
    plant.write("valve_command", 100)
    plant.advance(300)
    assert plant.read("inlet_interlock") is True
    assert plant.process.totals.volume_overflow == 0
    assert float(plant.read("level")) < 4.75


def test_stuck_valve_raises_the_deviation_alarm() -> None:
    plant = Plant.create()
    plant.process.valve_stuck = True
    plant.write("valve_command", 50)
    plant.advance(25)
    assert plant.read("valve_deviation") is False  # not before the delay
    plant.advance(10)
    assert plant.read("valve_deviation") is True
