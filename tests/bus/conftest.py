"""Helpers of the bus tests: free ports on 127.0.0.1, isolated state directory."""

from __future__ import annotations

import socket

import pytest

from tests.ports import free_port_pair  # (many tests import it from here)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    """Every test gets its own broker state file and no inherited broker address."""
    monkeypatch.setenv("HMI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("HMI_BROKER", raising=False)
    return tmp_path / "state"


@pytest.fixture
def address():
    return f"tcp://127.0.0.1:{free_port_pair()}"
