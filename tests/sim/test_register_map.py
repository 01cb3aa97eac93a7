"""The documented register map, the server and the demo project agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hmi.core.address import ModbusAddress
from hmi.core.tag import DataType
from hmi.project import load_project
from hmi.sim.registers import POINTS, Point, decode, encode
from hmi.testing import RunningPlant
from tests.sim.conftest import Master

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^\| (?P<address>(ir|hr|co|di):\d+) \| (?P<type>\w+) \| (?P<scale>[\d.]*) \|")


def _documented() -> dict[ModbusAddress, tuple[str, str, str]]:
    rows = {}
    text = (ROOT / "docs" / "simulated-plant.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[ModbusAddress.parse(match["address"])] = (cells[1], cells[2], cells[4])
    return rows


def test_docs_list_every_point_with_its_type_scale_and_signal() -> None:
    documented = _documented()
    served = {}
    for p in POINTS:
        scale = "" if p.data_type in (DataType.FLOAT32, DataType.BOOL) else f"{p.scale:g}"
        served[p.address] = (p.data_type.value, scale, p.signal)
    assert documented == served


def _read(master: Master, point: Point) -> list[int]:
    table, offset = point.address.table.value, point.address.offset
    if table in ("co", "di"):
        return [int(b) for b in master.bits(table, offset)]
    return master.regs(table, offset, point.count)


def test_every_documented_register_reads_the_plant_value(
    plant: RunningPlant, master: Master
) -> None:
    # Move the plant somewhere interesting so values differ from their defaults.
    plant.write("pump_run", True)
    plant.write("heater_enable", True)
    plant.write("heater_command", 50)
    plant.write("valve_command", 30)
    plant.advance(42.3)
    values = plant.call(lambda: plant.sim.unit().values())
    documented = _documented()
    by_address = {p.address: p for p in POINTS}
    for address in documented:
        point = by_address[address]
        raw = _read(master, point)
        assert raw == encode(point, values[point.signal]), point
        if point.data_type is DataType.FLOAT32:
            assert decode(point, raw) == pytest.approx(float(values[point.signal]), rel=1e-6)
    assert values["uptime"] == 42.0
    assert values["heartbeat"] == 423.0  # one scan per 0.1 s step


def test_writes_through_either_copy_set_the_command(plant: RunningPlant, master: Master) -> None:
    master.write_float(2, 12.5)  # hr:2 FV-101 command, float32
    assert plant.read("valve_command") == 12.5
    assert master.regs("hr", 21) == [1250]
    master.write_reg(21, 3000)  # hr:21, the same command in 0.01 %
    assert plant.read("valve_command") == 30.0
    assert master.float("hr", 2) == 30.0


def test_demo_project_tags_match_the_register_map() -> None:
    project = load_project(ROOT / "examples" / "demo-plant.yaml")
    points = {p.tag: p for p in POINTS if p.tag}
    device_tags = {name: t for name, t in project.tags.items() if t.source is not None}
    assert set(device_tags) == set(points)
    for name, tag in device_tags.items():
        point = points[name]
        assert tag.source is not None
        assert tag.source.address == point.address, name
        assert tag.data_type is point.data_type, name
        assert tag.writable == point.writable, name
    assert project.devices["plc1"].port == 5020


def test_values_roundtrip_through_each_type() -> None:
    for point in POINTS:
        value: float | bool = 5001 / point.scale if point.scale > 1 else 12.0
        if point.data_type is DataType.BOOL:
            value = True
        elif point.data_type is DataType.FLOAT32:
            value = 12.345
        assert decode(point, encode(point, value)) == pytest.approx(value)
    temperature = next(p for p in POINTS if p.address == ModbusAddress.parse("ir:24"))
    assert encode(temperature, -5.0) == [0xFFCE]  # int16, two's complement, 0.1 °C
