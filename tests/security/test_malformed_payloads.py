"""Threats: payloads of the wrong shape, and a topic that names one thing while the rights
were given for another (issue 13, item 5 "Typed messages"). Every control message and RPC
payload is decoded into its typed message before anything acts on it: a malformed one is
counted by reason (``$sys/stats`` ``drops``) and dropped, nothing of it applied, and the
broker and the nodes keep serving everyone else."""

from __future__ import annotations

import asyncio

import msgpack
import zmq

from hmi.bus import connect, expose
from hmi.bus.broker import Broker
from hmi.bus.wire.frames import Kind, encode

from .attacker import Attacker, until

BEAT = 0.2


class Audit:
    """The backend's audit trail, as far as these attacks need it."""

    def __init__(self):
        self.read = 0

    @expose
    def recent(self):
        self.read += 1
        return ["a row"]


async def plant(address, keys):
    """A CURVE broker with the plant's policy, the backend serving ``audit``, a station."""
    broker = Broker(
        address, heartbeat=BEAT, secret=keys.server, policy=keys.policy, write_state_file=False
    )
    await broker.start()
    backend = await connect(address, name="backend", keys=keys.client("backend"), heartbeat=BEAT)
    audit = Audit()
    backend.expose("audit", audit)
    station = await connect(address, name="station", keys=keys.client("station"), heartbeat=BEAT)
    await until(lambda: "audit" in broker.targets)
    return broker, backend, audit, station


def request(payload):
    """An RPC_REQ of ``local-1`` for ``audit``."""
    return encode("rpc/audit", Kind.RPC_REQ, "local-1", 0, 0.0, payload)


async def close(*things):
    for thing in things:
        result = thing.close()
        if asyncio.iscoroutine(result):
            await result


def test_a_call_named_in_another_topic_is_not_routed(address, keys):
    """Attack: the drivers' key may publish ``tag/`` and call only ``rpc/security``; it
    sends an RPC request for ``audit`` on the topic ``tag/audit`` (the broker took the
    target from the topic after its first four characters, and the rights from the
    topic's prefix: a right to publish became a right to call)."""

    async def main():
        broker, backend, audit, station = await plant(address, keys)
        drivers = Attacker(address, "drivers-1", keys.client("drivers"))
        try:
            drivers.send(Kind.RPC_REQ, "tag/audit", [1, "recent", [], {}])
            await until(lambda: broker.stats.drops["rpc_request"] == 1)
            assert audit.read == 0
            # the same call on its own topic is refused by the policy, as it always was
            drivers.send(Kind.RPC_REQ, "rpc/audit", [2, "recent", [], {}])
            await until(lambda: broker.stats.refusals["publish"] == 1)
            assert audit.read == 0 and drivers.received() == []
            assert await station.call("audit", "recent") == ["a row"]  # the rightful caller
        finally:
            drivers.close()
            await close(station, backend, broker)

    asyncio.run(main())


#: (kind, topic, payload, the reason it is counted under)
MALFORMED = [
    (Kind.HELLO, "$sys/broker", {"name": "m", "targets": "audit"}, "hello"),
    (Kind.HELLO, "$sys/broker", {"name": "m", "pid": "1"}, "hello"),
    (Kind.HEARTBEAT, "$sys/broker", {"pid": [1]}, "heartbeat"),
    (Kind.EXPOSE, "$sys/broker", ["audit", "yes"], "expose"),
    (Kind.EXPOSE, "$sys/broker", ["audit", False, "and more"], "expose"),
    (Kind.SNAPSHOT_REQ, "$sys/snapshot", {"prefix": "tag/"}, "snapshot_request"),
    (Kind.RPC_REQ, "rpc/audit", [1, "recent", [], {}, "extra"], "rpc_request"),
    (Kind.RPC_REQ, "rpc/audit", ["1", "recent", [], {}], "rpc_request"),
    (Kind.RPC_REQ, "rpc/audit", [1, "recent", {}, []], "rpc_request"),
    (Kind.RPC_REP, "rpc/station", [1, "yes", "forged"], "rpc_reply"),
    (Kind.RPC_REP, "rpc/station", "forged", "rpc_reply"),
]


def test_malformed_control_messages_are_counted_and_the_plant_keeps_working(address, keys):
    """Attack: an admitted key (mallory's) sends control messages and RPC of the wrong
    shape, each kind, hoping one half-applies (a hello that claims targets before its
    pid fails, a reply whose call id is read but not its flag) or throws the broker."""

    async def main():
        broker, backend, audit, station = await plant(address, keys)
        mallory = Attacker(address, "mallory-1", keys.client("mallory"))
        try:
            mallory.send(Kind.HELLO, "$sys/broker", {"name": "mallory"})
            await until(mallory.received)  # welcomed: a node the broker knows
            node = broker.nodes[b"mallory-1"]
            for kind, topic, payload, _ in MALFORMED:
                mallory.send(kind, topic, payload)
            bye = encode("$sys/broker", Kind.BYE, "mallory-1", 0, 0.0, None)
            mallory.sock.send_multipart([*bye[:2], b"\xc1"])
            expected: dict[str, int] = {"payload_msgpack": 1}
            for *_, reason in MALFORMED:
                expected[reason] = expected.get(reason, 0) + 1
            await until(lambda: {r: broker.stats.drops[r] for r in expected} == expected)
            assert node.name == "mallory" and node.pid == 0 and node.alive
            assert broker.targets == {"audit": backend.transport.node_id.encode()}
            assert audit.read == 0 and len(broker.doors.calls) == 0
            assert broker.stats.refused == 0  # malformed, not refused: counted as drops
            # everyone else is served as before
            assert await station.call("audit", "recent") == ["a row"]
        finally:
            mallory.close()
            await close(station, backend, broker)

    asyncio.run(main())


def test_a_nodes_direct_endpoint_drops_malformed_requests_and_keeps_serving(address):
    """Attack (one machine, no CURVE: direct RPC endpoints exist): a local process sends
    requests of the wrong shape straight to a node's endpoint."""

    async def main():
        broker = Broker(address, heartbeat=BEAT, write_state_file=False)
        await broker.start()
        backend = await connect(address, name="backend", heartbeat=BEAT)
        audit = Audit()
        backend.expose("audit", audit)
        station = await connect(address, name="station", heartbeat=BEAT)
        endpoint = backend.transport.rpc.endpoint
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.routing_id = b"local-1"
        sock.connect(endpoint)
        try:
            for payload in ([1, "recent", [], {}, 0], [1, "recent", "no list", {}], ["x"]):
                sock.send_multipart(request(payload))
            sock.send_multipart([*request(None)[:2], b"\xc1"])
            drops = backend.transport.drops
            await until(lambda: drops["rpc_request"] == 3 and drops["payload_msgpack"] == 1)
            await asyncio.sleep(0.1)
            assert audit.read == 0 and not sock.poll(0)  # nothing run, nothing answered
            # a well-formed one on the same connection is served
            sock.send_multipart(request([7, "recent", [], {}]))
            await until(lambda: sock.poll(0))  # (never block the loop the node runs on)
            assert msgpack.unpackb(sock.recv_multipart()[2]) == [7, True, ["a row"]]
            assert await station.call("audit", "recent") == ["a row"]
        finally:
            sock.close()
            ctx.term()
            await close(station, backend, broker)

    asyncio.run(main())
