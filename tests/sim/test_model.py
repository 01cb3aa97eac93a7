"""The process model: mass and energy balances, valve travel, heater lag, no I/O."""

from __future__ import annotations

import math

import pytest

from hmi.sim.model import Process, ProcessInputs, ProcessParams
from hmi.sim.plant import Plant


def _run(process: Process, seconds: float, inputs: ProcessInputs, dt: float = 0.1) -> None:
    for _ in range(round(seconds / dt)):
        process.step(dt, inputs)


def test_mass_balance_holds_with_filling_draining_and_overflow() -> None:
    process = Process(volume=8.0)
    start = process.volume
    _run(process, 600, ProcessInputs(valve_command=100, pump_on=True, outlet_valve=50))
    t = process.totals
    assert t.volume_overflow > 0  # the tank really did overflow
    assert process.volume == pytest.approx(
        start + t.volume_in - t.volume_out - t.volume_overflow, abs=1e-9
    )
    assert process.level == pytest.approx(process.params.tank_height)


def test_pump_running_dry_takes_no_more_than_the_tank_holds() -> None:
    process = Process(volume=0.5)
    _run(process, 600, ProcessInputs(pump_on=True, outlet_valve=100))
    assert process.volume >= 0
    assert process.totals.volume_out == pytest.approx(0.5, abs=1e-9)
    assert process.outflow == pytest.approx(0.0, abs=1e-6)


def test_energy_balance_holds_while_heating_with_throughflow() -> None:
    process = Process(volume=5.0, temperature=20.0)
    start = process.enthalpy
    inputs = ProcessInputs(valve_command=50, pump_on=True, outlet_valve=80, heater_demand_kw=80)
    _run(process, 1800, inputs)
    t = process.totals
    expected = start + t.energy_in - t.energy_out + t.energy_heater - t.energy_loss
    assert process.enthalpy + t.energy_residual == pytest.approx(expected, rel=1e-9)
    assert t.energy_heater > 0 and t.energy_in > 0 and t.energy_out > 0


def test_heated_closed_tank_follows_its_energy_input() -> None:
    # No flows, no losses: every kJ of the heater warms the water.
    params = ProcessParams(loss_ua=0.0)
    process = Process(params=params, volume=4.0, temperature=20.0)
    _run(process, 3600, ProcessInputs(heater_demand_kw=100))
    rise = process.totals.energy_heater / (params.rho_cp * 4.0)
    assert process.temperature == pytest.approx(20.0 + rise, rel=1e-9)
    assert rise > 15


def test_heater_power_is_a_first_order_lag() -> None:
    process = Process()
    tau = process.params.heater_tau
    _run(process, tau, ProcessInputs(heater_demand_kw=100))
    assert process.heater_power == pytest.approx(100 * (1 - math.exp(-1)), rel=1e-6)


def test_valve_moves_at_its_travel_rate_and_stops_when_stuck() -> None:
    process = Process()
    _run(process, 5, ProcessInputs(valve_command=100))
    assert process.valve_position == pytest.approx(25.0)  # 20 s for a full stroke
    process.valve_stuck = True
    _run(process, 30, ProcessInputs(valve_command=100))
    assert process.valve_position == pytest.approx(25.0)


def test_plant_advance_splits_large_steps() -> None:
    a, b = Plant.create(), Plant.create()
    for plant in (a, b):
        plant.write("valve_command", 60)
        plant.write("pump_run", True)
    a.advance(100.0)
    for _ in range(1000):
        b.advance(0.1)
    assert a.read("level") == pytest.approx(b.read("level"), rel=1e-9)
    assert a.time == pytest.approx(100.0)
