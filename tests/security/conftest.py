"""The attacks of the threat catalogue run against real brokers on 127.0.0.1 (in-process
Broker objects, CURVE with a policy unless the attack is about the fast path): free
ports, an isolated state directory, the plant's keys and policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmi.bus.net.auth import Policy
from hmi.bus.net.keys import ClientKeys, KeyPair, create_keys
from tests.bus.conftest import free_port_pair

#: the plant's policy: who may publish (and call) what, and serve which RPC targets.
#: mallory is an admitted key gone bad (a station's, say), with even a $sys/ right.
POLICY = """\
clients:
  - name: drivers
    key_file: keys/drivers.key
    publish: ["tag/", "$sys/device/", "result/", "rpc/security"]
    serve: ["drivers"]
  - name: backend
    key_file: keys/backend.key
    publish: ["alarm/", "rpc/"]
    serve: ["security", "audit"]
  - name: backend-2
    key_file: keys/backend-2.key
    publish: ["rpc/"]
    serve: ["security"]
  - name: station
    key_file: keys/station.key
    publish: ["cmd/", "rpc/"]
  - name: mallory
    key_file: keys/mallory.key
    publish: ["cmd/", "rpc/", "$sys/"]
"""
NAMES = ("broker", "drivers", "backend", "backend-2", "station", "mallory")


class PlantKeys:
    """The broker's key pair, its policy, and each client's keys by name."""

    def __init__(self, folder: Path) -> None:
        for name in NAMES:
            create_keys(folder / "keys", name)
        (folder / "clients.yaml").write_text(POLICY)
        self.policy = Policy.load(folder / "clients.yaml")
        self.server = KeyPair.load(folder / "keys" / "broker.key_secret")
        self._folder = folder

    def client(self, name: str) -> ClientKeys:
        """What node ``name`` needs to reach the broker."""
        pair = KeyPair.load(self._folder / "keys" / f"{name}.key_secret")
        return ClientKeys(pair, self.server.public)


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    """Every test gets its own broker state file and no inherited bus settings."""
    monkeypatch.setenv("HMI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("HMI_BROKER", raising=False)
    monkeypatch.delenv("HMI_DISCOVERY_KEY", raising=False)


@pytest.fixture
def address() -> str:
    return f"tcp://127.0.0.1:{free_port_pair()}"


@pytest.fixture
def keys(tmp_path) -> PlantKeys:
    return PlantKeys(tmp_path)
