"""Threats at a node's stream endpoint (direct calls on one machine, docs/security.md):
a local process that calls there without the broker's ticket, with a forged, expired or
borrowed one, or with someone else's ticket on its connection. Each is refused, counted
(``ticket``) and the method never runs; the station's own calls go direct under its
ticket and fall back through the broker when their ticket is no good."""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import time

import msgpack
import pytest

from hmi.bus.net import tickets
from hmi.bus.net.rpcstream import encode
from hmi.bus.wire.frames import Kind, pack_header

from .attacker import Attacker, until
from .test_rpc_targets import close, plant

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="stream endpoints are abstract Unix sockets"
)


class Local:
    """A process on the machine that dials a node's stream endpoint itself."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    @classmethod
    async def dial(cls, endpoint: str) -> Local:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, "\0" + endpoint[len("unix:@") :])
        return cls(sock)

    async def send(self, topic: bytes, sender: str, payload: bytes) -> None:
        header = pack_header(Kind.RPC_REQ, sender, 0, time.time())
        await asyncio.get_running_loop().sock_sendall(self.sock, encode([topic, header, payload]))

    async def ticket(self, ticket: str, sender: str = "mallory") -> None:
        await self.send(b"$sys/ticket", sender, ticket.encode())

    async def call(self, target: str, call_id: int, sender: str) -> None:
        payload = msgpack.packb([call_id, "login", ["olga", "x"], {}])
        await self.send(f"rpc/{target}".encode(), sender, payload)

    async def reply(self, timeout: float = 2.0) -> list | None:
        """The next reply's payload ``[call_id, ok, value]`` (None: the node closed)."""
        loop = asyncio.get_running_loop()
        while True:
            if len(self.buffer) >= 12:
                sizes = struct.unpack_from("<III", self.buffer)
                end = 12 + sum(sizes)
                if len(self.buffer) >= end:
                    payload = self.buffer[12 + sizes[0] + sizes[1] : end]
                    self.buffer = self.buffer[end:]
                    return msgpack.unpackb(payload)
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), timeout)
            if not data:
                return None
            self.buffer += data

    def close(self) -> None:
        self.sock.close()


def test_direct_calls_under_a_policy_need_the_brokers_ticket(address, keys):
    async def main():
        broker, backend, service, station = await plant(address, keys)
        rpc = backend.transport.rpc
        mallory = Attacker(address, "mallory-1", keys.client("mallory"))
        locals_: list[Local] = []
        try:
            # a node's own endpoint in its HELLO is never given to callers under a policy
            # nor another program's socket as its stream endpoint (callers would write there)
            hello = {
                "name": "m",
                "rpc": "tcp://127.0.0.1:9",
                "rpc_stream": "unix:@/tmp/.X11-unix/X0",
            }
            mallory.send(Kind.HELLO, "$sys/broker", hello)
            await until(mallory.received)
            assert broker.nodes[b"mallory-1"].rpc == ""
            assert broker.nodes[b"mallory-1"].rpc_stream == ""
            assert rpc.endpoint == ""  # nodes with CURVE keys bind no ROUTER
            endpoint = rpc.stream_endpoint
            assert endpoint.startswith("unix:@")

            # the station: through the broker, then direct under the ticket it was given
            assert (await station.call("security", "login", "olga", "1"))["user"] == "olga"
            route = station.transport.rpc.routes["security"]
            base, _, ticket = route.partition("#")
            assert base == endpoint and ticket
            for i in range(3):
                await station.call("security", "login", "olga", str(i))
            assert station.transport.rpc.direct_connections == 1
            logins = len(service.logins)
            drops = backend.transport.drops
            me = station.transport.node_id  # (the tickets name the station's node id)

            async def refused(local: Local, call_id: int) -> None:
                answer = await local.reply()
                assert answer is not None and answer[:2] == [call_id, False], answer
                assert answer[2][0] == tickets.REFUSED

            # no ticket at all
            local = await Local.dial(endpoint)
            locals_.append(local)
            await local.call("security", 1, me)
            await refused(local, 1)
            # a forged ticket (signed with a key of its own), then a call under it
            await local.ticket(tickets.issue(b"k" * 32, me, "security", time.time()))
            await local.call("security", 2, me)
            await refused(local, 2)
            assert drops["ticket"] == 3  # (the call, the forged ticket, the call)
            # an expired one, signed with the right key
            stale = tickets.issue(rpc.ticket_key, me, "security", time.time() - 60)
            await local.ticket(stale)
            await local.call("security", 3, me)
            await refused(local, 3)
            # the station's own ticket (leaked) is for security only: not for audit
            await local.ticket(ticket)
            await local.call("audit", 4, me)
            await refused(local, 4)
            # and only as the station: a call naming another sender is dropped unanswered
            await local.call("security", 5, sender="backend")
            with pytest.raises(TimeoutError):
                await local.reply(timeout=0.3)
            # one connection, one caller: a second caller's ticket ends it
            other = tickets.issue(rpc.ticket_key, "drivers", "security", time.time())
            await local.ticket(other)
            assert await local.reply() is None
            assert len(service.logins) == logins  # nothing ran
            assert drops["ticket"] >= 7

            # a ticket the node no longer takes (as after a broker restart: a new key):
            # the station's call is answered through the broker, which issues a new one
            rpc.ticket_key = tickets.new_key()
            broker.nodes[backend.transport.node_id.encode()].ticket_key = rpc.ticket_key
            assert (await station.call("security", "login", "olga", "again"))["user"] == "olga"
            await until(lambda: station.transport.rpc.routes.get("security", "") != route)
            assert (await station.call("security", "login", "olga", "direct"))["user"] == "olga"
        finally:
            for local in locals_:
                local.close()
            mallory.close()
            await close(station, backend, broker)

    asyncio.run(main())
