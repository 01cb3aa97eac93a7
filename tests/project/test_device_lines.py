"""Modbus RTU units that share a line must agree on the line's settings: the loader says so
(file:line: field: message), instead of the driver manager refusing the line at run time."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from hmi.drivers.manager import DriverManager
from hmi.project import ProjectError, load_project
from hmi.project.model import DeviceConfig

LINE = "tcp://127.0.0.1:25022"
SHARED = "a line's devices share baudrate, parity, stop_bits, timeout, retries and reconnect_max"

THREE_UNITS = f"""\
name: p
builtin_screens: false
devices:
  - name: u1
    protocol: modbus-rtu
    serial_port: {LINE}
    unit_id: 1
    timeout: 0.5
  - name: u2
    protocol: modbus-rtu
    serial_port: {LINE}
    unit_id: 2
    timeout: 1.0
  - name: u3
    protocol: modbus-rtu
    serial_port: {LINE}
    unit_id: 3
    timeout: 0.5
tags:
  - {{name: a/u1/x, device: u1, address: "hr:1", type: uint16}}
  - {{name: a/u2/x, device: u2, address: "hr:1", type: uint16}}
  - {{name: a/u3/x, device: u3, address: "hr:1", type: uint16}}
"""


def errors_of(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ProjectError) as info:
        load_project(path)
    return [str(e).replace(str(path), "p.yaml") for e in info.value.errors]


def load(text: str, tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_project(path)


def test_a_unit_whose_timeout_differs_from_the_lines_is_an_error_at_its_line(tmp_path):
    assert errors_of(THREE_UNITS, tmp_path) == [
        f"p.yaml:13: devices[1].timeout: 1.0 differs from 0.5 of u1 on the same line {LINE} "
        f"({SHARED})"
    ]


def test_every_differing_field_is_named_each_at_its_own_line(tmp_path):
    text = THREE_UNITS.replace(
        "    unit_id: 3\n    timeout: 0.5\n",
        "    unit_id: 3\n    timeout: 0.5\n    retries: 3\n    parity: N\n",
    ).replace("    timeout: 1.0\n", "")
    # u2 has no timeout of its own: its default (0.5) is u1's, so only u3 is wrong
    assert errors_of(text, tmp_path) == [
        f"p.yaml:18: devices[2].retries: 3 differs from 1 of u1 on the same line {LINE} ({SHARED})",
        f"p.yaml:19: devices[2].parity: 'N' differs from 'E' of u1 on the same line {LINE} "
        f"({SHARED})",
    ]


def test_a_default_that_differs_from_the_first_units_value_is_named_at_the_device(tmp_path):
    text = THREE_UNITS.replace("    unit_id: 2\n    timeout: 1.0\n", "    unit_id: 2\n").replace(
        "timeout: 0.5", "timeout: 2.0"
    )
    assert errors_of(text, tmp_path) == [
        f"p.yaml:9: devices[1].timeout: 0.5 (the default) differs from 2.0 of u1 on the same "
        f"line {LINE} ({SHARED})"
    ]


def test_two_units_with_one_unit_id_on_a_line(tmp_path):
    text = THREE_UNITS.replace("timeout: 1.0", "timeout: 0.5").replace("unit_id: 3", "unit_id: 1")
    assert errors_of(text, tmp_path) == [
        f"p.yaml:17: devices[2].unit_id: 1 is also u1's on the same line {LINE} "
        "(each unit of a line answers to its own unit_id)"
    ]
    # a unit without unit_id is unit 1 too: named at its device
    text = text.replace(
        "    unit_id: 1\n    timeout: 0.5\n  - name: u2", "    timeout: 0.5\n  - name: u2"
    )
    assert errors_of(text, tmp_path) == [
        f"p.yaml:16: devices[2].unit_id: 1 is also u1's on the same line {LINE} "
        "(each unit of a line answers to its own unit_id)"
    ]


def test_both_mistakes_at_once(tmp_path):
    text = THREE_UNITS.replace("unit_id: 3", "unit_id: 2")
    assert errors_of(text, tmp_path) == [
        f"p.yaml:13: devices[1].timeout: 1.0 differs from 0.5 of u1 on the same line {LINE} "
        f"({SHARED})",
        f"p.yaml:17: devices[2].unit_id: 2 is also u2's on the same line {LINE} "
        "(each unit of a line answers to its own unit_id)",
    ]


def test_what_a_unit_may_have_of_its_own(tmp_path):
    """Name, unit id, description, settle time and enabled are the unit's; other lines,
    and TCP devices, have their own settings; an RTU line has no host or port."""
    text = (
        THREE_UNITS.replace("timeout: 1.0", "timeout: 0.5")
        .replace(
            "    unit_id: 2\n",
            "    unit_id: 2\n    enabled: false\n    settle: 2.0\n    description: spare\n"
            "    host: 10.0.0.9\n",
        )
        .replace(
            "tags:\n",
            "  - {name: u4, protocol: modbus-rtu, serial_port: /dev/ttyUSB1, unit_id: 1, "
            "timeout: 2.0, baudrate: 9600}\n"
            "  - {name: t1, port: 5020, timeout: 3.0}\n"
            "  - {name: t2, port: 5020, timeout: 1.0}\n"
            "tags:\n",
        )
    )
    project = load(text, tmp_path)
    assert project.devices["u2"].enabled is False
    assert project.devices["u4"].unit_id == 1


def test_the_rule_is_the_device_configs():
    """One definition for the loader and the driver (hmi.drivers.modbus_plugin.same_link)."""
    u1 = DeviceConfig("u1", protocol="modbus-rtu", serial_port=LINE)
    own = {"name": "u2", "unit_id": 2, "enabled": False, "settle": 1.0, "description": "d"}
    assert u1.same_link(dataclasses.replace(u1, **own, host="10.0.0.9", port=1502, line=7))
    assert u1.link_differences(dataclasses.replace(u1, timeout=1.0, stop_bits=2)) == (
        "stop_bits",
        "timeout",
    )
    assert u1.link_differences(dataclasses.replace(u1, protocol="modbus-tcp")) == ("protocol",)
    tcp = DeviceConfig("t1")
    assert tcp.link_differences(dataclasses.replace(tcp, host="10.0.0.9")) == ("host",)
    assert "host" in tcp.link_fields() and "host" not in u1.link_fields()


class _Sink:
    def samples(self, batch):
        pass

    def status(self, status):
        pass


def test_the_driver_refuses_what_the_loader_reports():
    """What `hmi check` now reports is what made `hmi run` fail."""
    u1 = DeviceConfig("u1", protocol="modbus-rtu", serial_port=LINE)
    manager = DriverManager(_Sink())
    manager.add_device(u1)
    with pytest.raises(ValueError, match="u2: timeout differs from u1's on one line"):
        manager.add_device(dataclasses.replace(u1, name="u2", unit_id=2, timeout=1.0))


def test_a_line_the_loader_accepts_is_run_by_the_driver(tmp_path):
    text = THREE_UNITS.replace("timeout: 1.0", "timeout: 0.5")
    project = load(text, tmp_path)
    manager = DriverManager.for_project(project, _Sink())
    assert set(manager.devices) == {"u1", "u2", "u3"}


def test_a_disabled_unit_or_a_units_settle_time_does_not_stop_the_line(tmp_path):
    text = THREE_UNITS.replace("timeout: 1.0", "timeout: 0.5").replace(
        "    unit_id: 2\n", "    unit_id: 2\n    enabled: false\n    settle: 2.0\n"
    )
    project = load(text, tmp_path)
    manager = DriverManager.for_project(project, _Sink())
    assert set(manager.devices) == {"u1", "u2", "u3"}
