"""Direct RPC on one machine without CURVE, between real ``hmi broker`` and ``hmi backend``
processes: a caller is routed to the backend's stream endpoint with a ticket
(docs/bus-protocol.md, "Direct RPC"), calls go there, a local process that writes
garbage or calls without a ticket is refused, and when the backend goes the caller is
back on the broker.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import time

import msgpack
import pytest
import yaml

from hmi.bus import RemoteError, connect
from hmi.bus.wire.frames import MAX_PAYLOAD, Kind, pack_header
from tests.deploy.processes import Command, environment, plain_control_room_project, processes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract Unix sockets"),
]

PASSWORD = "demo-operator"  # examples/demo-plant.yaml's operator


def _frame(topic: bytes, header: bytes, payload: bytes) -> bytes:
    return struct.pack("<III", len(topic), len(header), len(payload)) + topic + header + payload


def _request(sender: str, call_id: int) -> bytes:
    header = pack_header(Kind.RPC_REQ, sender, 0, time.time())
    return _frame(b"rpc/security", header, msgpack.packb([call_id, "nonexistent", [], {}]))


def _closed_by_peer(sock: socket.socket, timeout: float = 5.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


@pytest.mark.timeout(120)
def test_calls_go_to_the_backends_stream_endpoint_and_its_door_refuses_garbage(tmp_path):
    project = plain_control_room_project(tmp_path)
    address = yaml.safe_load(project.read_text())["bus"]["broker"]
    env = environment(tmp_path)
    with processes() as started:
        for name, args in (
            ("broker", ("broker", str(project), "--quiet")),
            ("backend", ("backend", str(project), "--data", str(tmp_path / "data"))),
        ):
            started.append(Command(name, *args, env=env, log=tmp_path / f"{name}.log"))
        _broker, backend = started
        backend.wait_for("ready", 60)
        asyncio.run(_calls_and_attacks(address, backend))


async def _calls_and_attacks(address: str, backend: Command) -> None:
    bus = await connect(address, name="station-x")
    rpc = bus.transport.rpc
    try:
        login = await bus.call("security", "login", "operator", PASSWORD, node="station-x")
        assert login["token"]  # through the broker, which names the backend's endpoint
        endpoint, _, ticket = rpc.routes["security"].partition("#")
        assert endpoint.startswith("unix:@hmi-rpc-") and ticket, rpc.routes
        for _ in range(3):
            assert (await bus.call("security", "login", "operator", PASSWORD))["token"]
        assert rpc.direct_connections == 1

        name = "\0" + endpoint[len("unix:@") :]
        # a frame longer than the protocol allows: the backend closes the connection
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(name)
            sock.sendall(struct.pack("<III", 5, 20, MAX_PAYLOAD + 1))
            assert _closed_by_peer(sock)
        # a call without the broker's ticket (claiming the station's id) is refused
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(name)
            sock.sendall(_request(bus.transport.node_id, 1))
            sock.settimeout(10)
            assert b"TicketRefused" in sock.recv(65536)
        # the backend serves on
        assert (await bus.call("security", "login", "operator", PASSWORD))["token"]

        backend.stop()  # gone: the connection is lost, the route forgotten
        deadline = time.monotonic() + 10
        while "security" in rpc.routes and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert "security" not in rpc.routes
        with pytest.raises(RemoteError) as gone:  # through the broker, which knows
            await bus.call("security", "login", "operator", PASSWORD, timeout=5.0)
        assert gone.value.remote_type == "LookupError"
    finally:
        await bus.close()
