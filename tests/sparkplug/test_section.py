"""The project's ``sparkplug:`` section: what it means, and every mistake with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmi.project import ProjectError, parse_project

BASE = """\
name: Sparkplug plant
devices:
  - {name: plc1, host: 127.0.0.1, port: 5020}
tags:
  - {name: area1/t101/level, device: plc1, address: "ir:0", type: float32}
  - {name: area1/p101/start, device: plc1, address: "co:0", type: bool, write_roles: [operator]}
users:
  - {name: mqtt-host, roles: [operator]}
"""


def load(section: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "plant.yaml"
    text = BASE + section
    path.write_text(text)
    return parse_project(text, path)


def test_a_full_section(tmp_path: Path) -> None:
    project = load(
        """\
sparkplug:
  broker: mqtts://mqtt.example.com:8883
  group: site-a
  edge_node: control-room
  device: tank-farm
  tags: ["area1/t101/*"]
  username: site-a
  password_env: HMI_MQTT_PASSWORD
  tls: {ca_file: certs/ca.pem, cert_file: certs/me.pem, key_file: certs/me.key}
  commands:
    user: mqtt-host
    password_file: secrets/host.password
""",
        tmp_path,
    )
    config = project.sparkplug
    assert config is not None
    assert (config.group, config.edge_node, config.device) == (
        "site-a",
        "control-room",
        "tank-farm",
    )
    assert config.selects("area1/t101/level") and not config.selects("area1/p101/start")
    assert config.password.env == "HMI_MQTT_PASSWORD"
    assert config.ca_file == (tmp_path / "certs" / "ca.pem").resolve()
    assert config.command_user == "mqtt-host"
    assert config.command_password.file == (tmp_path / "secrets" / "host.password").resolve()


def test_absent_means_not_published(tmp_path: Path) -> None:
    assert load("", tmp_path).sparkplug is None


def test_defaults_publish_every_tag_and_refuse_commands(tmp_path: Path) -> None:
    config = load(
        "sparkplug: {broker: 'mqtt://127.0.0.1:1883', group: g, edge_node: e}\n", tmp_path
    ).sparkplug
    assert config is not None
    assert config.tags == ("*",) and config.device == "plant"
    assert config.command_user == ""


def test_every_mistake_with_file_line_and_field(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as caught:
        load(
            """\
sparkplug:
  broker: http://example.com
  group: "a/b"
  edge_node: e
  tags: ["area9/*"]
  password_file: x
  password_env: Y
  tls: {cert_file: c.pem}
  commands: {user: nobody}
  qos: 2
""",
            tmp_path,
        )
    text = str(caught.value)
    path = tmp_path / "plant.yaml"
    assert f"{path}:10: sparkplug.broker: expected mqtt://HOST:PORT" in text
    assert f"{path}:11: sparkplug.group: 1 to 128 characters" in text
    assert f"{path}:13: sparkplug.tags: 'area9/*' matches no tag" in text
    assert (
        f"{path}:15: sparkplug.password_env: give password_file or password_env, not both" in text
    )
    assert "sparkplug.tls.key_file: cert_file and key_file go together" in text
    assert f"{path}:17: sparkplug.commands.user: unknown user 'nobody'" in text
    assert f"{path}:18: sparkplug.qos: unknown field" in text


def test_a_command_user_needs_a_password(tmp_path: Path) -> None:
    section = (
        "sparkplug: {broker: 'mqtt://h:1', group: g, edge_node: e, commands: {user: mqtt-host}}"
    )
    with pytest.raises(
        ProjectError, match=r"sparkplug\.commands\.password_file: the user's password"
    ):
        load(section + "\n", tmp_path)
