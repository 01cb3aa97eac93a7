"""Helpers of the bus tests: free ports on 127.0.0.1, isolated state directory."""

from __future__ import annotations

import socket

import pytest


def free_port_pair() -> int:
    """A port p with p and p + 1 free on 127.0.0.1 (a broker's front and back)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65534:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair")


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
