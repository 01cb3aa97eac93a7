"""Where a node's broker is and which keys it uses: the project's ``bus:`` section, under
the environment, under flags; every file problem named with where it was set."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmi.app.deployment import DeploymentError, resolve
from hmi.bus.net.keys import KeyPair, create_keys
from hmi.project import parse_project

BUS = """\
name: p
bus:
  mode: {mode}
  broker: tcp://127.0.0.1:6000
  heartbeat_interval: 0.5
  discovery: false
  curve:
    broker_key: keys/broker.key
    node_key: keys/{{name}}.key_secret
    clients: keys/clients.yaml
"""


def project(tmp_path: Path, mode: str = "broker"):
    path = tmp_path / "plant.yaml"
    path.write_text(BUS.format(mode=mode))
    return parse_project(path.read_text(), path)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    for name in ("broker", "drivers", "other", "station"):
        create_keys(tmp_path / "keys", name)
    return tmp_path / "keys"


def test_the_project_describes_the_deployment(tmp_path: Path, keys: Path) -> None:
    where = resolve(project(tmp_path), name="drivers", environ={})
    assert not where.local
    assert where.broker == "tcp://127.0.0.1:6000"
    assert where.heartbeat == 0.5
    assert where.discovery is False
    assert where.key_file == keys / "drivers.key_secret"
    assert where.keys is not None
    assert where.keys.pair == KeyPair.load(keys / "drivers.key_secret")
    assert where.keys.server_key == KeyPair.load(keys / "broker.key").public
    assert "CURVE" in where.describe()


def test_the_environment_overrides_the_project_and_flags_the_environment(
    tmp_path: Path, keys: Path
) -> None:
    environ = {"HMI_BROKER": "tcp://127.0.0.1:7000", "HMI_KEY": str(keys / "other.key_secret")}
    where = resolve(project(tmp_path), name="drivers", environ=environ)
    assert where.broker == "tcp://127.0.0.1:7000"
    assert where.key_file == keys / "other.key_secret"
    where = resolve(
        project(tmp_path),
        name="drivers",
        broker="tcp://127.0.0.1:8000",
        key=keys / "drivers.key_secret",
        heartbeat=2.0,
        environ=environ,
    )
    assert (where.broker, where.key_file, where.heartbeat) == (
        "tcp://127.0.0.1:8000",
        keys / "drivers.key_secret",
        2.0,
    )


def test_mode_local_runs_in_one_process_unless_told_otherwise(tmp_path: Path, keys: Path) -> None:
    local = project(tmp_path, mode="local")
    assert resolve(local, name="station", environ={}).local
    assert not resolve(local, name="station", environ={"HMI_BUS_MODE": "broker"}).local
    assert not resolve(local, name="station", broker="tcp://127.0.0.1:1", environ={}).local
    assert resolve(project(tmp_path), name="s", local=True, environ={}).local
    with pytest.raises(DeploymentError, match="HMI_BUS_MODE: expected local or broker"):
        resolve(local, name="station", environ={"HMI_BUS_MODE": "remote"})


def test_a_missing_key_file_names_the_setting_and_how_to_make_it(
    tmp_path: Path, keys: Path
) -> None:
    with pytest.raises(DeploymentError) as error:
        resolve(project(tmp_path), name="station-9", environ={})
    text = str(error.value)
    assert "plant.yaml:9: bus.curve.node_key" in text  # its own line, not bus:
    assert "station-9.key_secret: no such key file" in text
    assert "hmi keys generate station-9" in text


def test_a_public_key_is_not_a_node_key_pair(tmp_path: Path, keys: Path) -> None:
    with pytest.raises(DeploymentError, match=r"--key: .*drivers.key: holds only a public key"):
        resolve(project(tmp_path), name="drivers", key=keys / "drivers.key", environ={})


def test_curve_needs_both_key_files(tmp_path: Path, keys: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: p\nbus: {mode: broker}\n")
    with pytest.raises(DeploymentError, match=r"the broker.s public key .* is not named"):
        resolve(
            parse_project(plain.read_text(), plain),
            name="drivers",
            key=keys / "drivers.key_secret",
            environ={},
        )


def test_a_bad_broker_address_from_the_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="broker address 'tcp:/x'"):
        resolve(None, name="n", environ={"HMI_BROKER": "tcp:/x"})
