"""The ``bus:`` and ``system_alarms:`` sections: every field read, checked and used."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmi.project import load_project
from tests.project.test_loader import errors_of


def test_the_bus_section_with_curve_keys_relative_to_the_project(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(
        "name: p\n"
        "bus:\n"
        "  mode: broker\n"
        "  broker: tcp://10.0.0.5:5570\n"
        "  heartbeat_interval: 0.5\n"
        "  discovery: false\n"
        "  curve: {broker_key: keys/broker.key, clients: keys/clients.yaml}\n"
        "system_alarms: {device_priority: 1, node_priority: 3, on_delay: 2}\n"
    )
    project = load_project(path)
    bus = project.bus
    assert (bus.mode, bus.broker, bus.heartbeat_interval, bus.discovery, bus.line) == (
        "broker",
        "tcp://10.0.0.5:5570",
        0.5,
        False,
        2,
    )
    assert bus.curve is not None
    assert bus.curve.broker_key == tmp_path / "keys" / "broker.key"
    assert bus.curve.broker_secret == tmp_path / "keys" / "broker.key_secret"
    assert bus.curve.node_key_for("drivers") == tmp_path / "keys" / "drivers.key_secret"
    assert bus.curve.clients == tmp_path / "keys" / "clients.yaml"
    alarms = project.system_alarms
    assert (alarms.enabled, alarms.device_priority, alarms.node_priority, alarms.on_delay) == (
        True,
        1,
        3,
        2.0,
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("bus: {broker: 'tcp:/x'}", "bad.yaml:2: bus.broker: expected tcp://HOST:PORT"),
        ("bus: {mode: remote}", "bad.yaml:2: bus.mode: expected one of local, broker"),
        ("bus: {heartbeat_interval: 0}", "bad.yaml:2: bus.heartbeat_interval: expected seconds"),
        ("bus: {heartbeat: 1}", "bad.yaml:2: bus.heartbeat: unknown field (did you mean"),
        ("bus: {curve: {node_key: k.key_secret}}", "bus.curve.broker_key: missing required"),
        ("bus: {curve: {broker_key: b.key_secret}}", "bus.curve.broker_key: expected the broker"),
        ("bus: {curve: {broker_key: b.key, node_key: n.key}}", "bus.curve.node_key: expected"),
        ("bus: {curve: yes}", "bus.curve: expected a mapping"),
        ("system_alarms: {device_priority: 5}", "system_alarms.device_priority: expected an"),
        (
            "system_alarms: {on_delay: -1}",
            "system_alarms.on_delay: expected 0 or more seconds, found -1",
        ),
        ("system_alarms: {priority: 1}", "system_alarms.priority: unknown field"),
    ],
)
def test_each_problem_names_file_line_and_field(tmp_path: Path, section: str, message: str) -> None:
    errors = errors_of(f"name: p\n{section}\n", tmp_path)
    text = "\n".join(errors).replace(str(tmp_path / "bad.yaml"), "bad.yaml")
    assert message in text, text
