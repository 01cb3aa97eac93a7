"""Fixtures of the OPC UA tests: a node-opcua server on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.drivers.helpers import free_port
from tests.opcua.peer import NodeOpcUaServer


@pytest.fixture(scope="session")
def opcua_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PKI folder for every server of the run (its certificate is made once)."""
    return tmp_path_factory.mktemp("opcua-pki")


@pytest.fixture
def node_opcua(tmp_path: Path, opcua_pki: Path) -> Iterator[NodeOpcUaServer]:
    """A running node-opcua server (tests/peers/opcua/server.js)."""
    server = NodeOpcUaServer(free_port(), opcua_pki, tmp_path / "node-opcua.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
