"""Every fault, seen from a Modbus master (pymodbus client over 127.0.0.1)."""

from __future__ import annotations

import time

import pytest
from pymodbus.exceptions import ModbusIOException

from hmi.testing import RunningPlant
from tests.sim.conftest import Master


def test_comm_loss_stops_answers_until_it_expires(plant: RunningPlant) -> None:
    m = Master(plant, timeout=0.2)
    assert m.float("ir", 0) == pytest.approx(2.5)
    plant.faults().comm_loss(5.0)
    with pytest.raises(ModbusIOException):
        m.client.read_input_registers(0, count=2, device_id=1)
    plant.advance(5.1)
    m.client.close()
    assert m.client.connect()
    assert m.float("ir", 0) == pytest.approx(2.5)
    m.client.close()


def test_comm_loss_from_the_control_block(plant: RunningPlant, master: Master) -> None:
    master.client.comm_params.timeout_connect = 0.2
    master.write_reg(100, 3)  # stop answering for 3 s
    assert plant.faults().comm_loss_active is True
    plant.advance(3.0)
    assert plant.faults().comm_loss_active is False


def test_slow_answers_arrive_late_or_time_out(plant: RunningPlant) -> None:
    m = Master(plant, timeout=1.0)
    plant.faults().slow(0.15)
    start = time.monotonic()
    m.regs("ir", 0, 2)
    assert time.monotonic() - start >= 0.15
    m.client.close()
    impatient = Master(plant, timeout=0.05)
    with pytest.raises(ModbusIOException):
        impatient.client.read_input_registers(0, count=2, device_id=1)
    impatient.client.close()
    plant.faults().clear()


def test_exception_code_answers_but_control_block_still_works(
    plant: RunningPlant, master: Master
) -> None:
    master.write_reg(102, 4)  # answer everything with 4 (server device failure)
    response = master.client.read_input_registers(0, count=2, device_id=1)
    assert response.isError()
    assert response.exception_code == 4
    response = master.client.write_coil(0, True, device_id=1)
    assert response.exception_code == 4
    assert master.regs("hr", 102) == [4]
    master.write_reg(102, 0)
    assert master.float("ir", 0) == pytest.approx(2.5)


def test_unknown_register_answers_illegal_address(master: Master) -> None:
    response = master.client.read_input_registers(39, count=2, device_id=1)
    assert response.isError() and response.exception_code == 2


def test_frozen_sensor_holds_while_the_level_moves(plant: RunningPlant, master: Master) -> None:
    master.write_reg(103, 0b1)  # bit 0: level
    master.write_coil(0, True)  # the pump drains the tank
    plant.advance(120)
    assert master.float("ir", 0) == pytest.approx(2.5)
    assert float(plant.read("level")) < 2.4
    assert master.regs("ir", 20) == [2500]  # the scaled copy is frozen too
    master.write_reg(103, 0)
    assert master.float("ir", 0) == pytest.approx(float(plant.read("level")), abs=1e-5)


def test_noisy_sensor_scatters_around_the_true_value(plant: RunningPlant, master: Master) -> None:
    master.write_reg(105, 100)  # 1 % of span = +-1 °C
    master.write_reg(104, 1 << 4)  # bit 4: temperature
    readings = []
    for _ in range(20):
        plant.advance(0.1)
        readings.append(master.float("ir", 8))
    assert len(set(readings)) > 10
    assert all(abs(r - 20.0) <= 1.0 + 1e-3 for r in readings)
    assert max(readings) - min(readings) > 0.5


def test_stuck_valve_does_not_follow_its_command(plant: RunningPlant, master: Master) -> None:
    master.write_reg(106, 1)
    master.write_float(2, 80.0)
    plant.advance(40)
    assert master.float("ir", 2) == pytest.approx(0.0)
    assert master.bits("di", 7) == [True]  # FV-101 deviation
    master.write_reg(106, 0)
    plant.advance(20)
    assert master.float("ir", 2) == pytest.approx(80.0)


def test_pump_trip_stops_the_pump_until_reset(plant: RunningPlant, master: Master) -> None:
    master.write_coil(0, True)
    plant.advance(1)
    assert master.bits("di", 0, 2) == [True, False]
    master.write_reg(107, 1)  # trip
    plant.advance(1)
    assert master.bits("di", 0, 2) == [False, True]
    assert master.bits("co", 0) == [False]
    master.write_coil(1, True)  # reset
    plant.advance(0.2)
    master.write_coil(0, True)
    plant.advance(1)
    assert master.bits("di", 0, 2) == [True, False]


def test_alarm_flood_crosses_every_limit_at_once(plant: RunningPlant, master: Master) -> None:
    plant.faults().alarm_flood(duration=10)
    assert master.float("ir", 0) > 4.6  # level above HH
    assert master.float("ir", 8) > 80  # temperature above HH
    assert master.float("ir", 4) > 22 and master.float("ir", 6) > 22
    assert master.bits("di", 0, 8) == [False, True, False, True, True, True, False, True]
    plant.advance(10)
    assert master.float("ir", 0) == pytest.approx(2.5)
    assert master.bits("di", 1) == [False]


def test_clear_register_clears_every_fault(plant: RunningPlant, master: Master) -> None:
    faults = plant.faults()
    faults.freeze("level")
    faults.noise("temperature")
    faults.stick_valve()
    faults.alarm_flood()
    master.write_reg(109, 1)
    assert plant.faults().active == []
    assert master.regs("hr", 100, 10) == [0, 0, 0, 0, 0, 200, 0, 0, 0, 0]


@pytest.mark.plant(devices=2, speed=50)
def test_marker_serves_several_free_running_plants(plant: RunningPlant) -> None:
    assert plant.unit_ids == [1, 2]
    m = Master(plant)
    m.unit = 2
    m.write_coil(0, True)  # only unit 2's pump runs
    deadline = time.monotonic() + 5
    while plant.time < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert plant.read("pump_running", unit_id=2) is True
    assert plant.read("pump_running", unit_id=1) is False
    assert float(plant.read("level", unit_id=2)) < 2.5 == plant.read("level", unit_id=1)
    m.client.close()


def test_the_plant_fixture_takes_demo_tag_names_as_well_as_signals(plant: RunningPlant) -> None:
    plant.write("area1/p101/start", True)  # the tag of co:0, signal pump_run
    plant.advance(2.0)
    assert plant.read("area1/p101/running") is True
    assert plant.read("pump_running") is True
    assert plant.read("area1/t101/level") == plant.read("level")
    with pytest.raises(KeyError, match="area1/p101/running"):
        plant.write("area1/p101/running", False)  # a state, not a command
    with pytest.raises(KeyError, match="did you mean 'area1/t101/level'"):
        plant.read("area1/t101/levl")  # a typo is named with what it meant
