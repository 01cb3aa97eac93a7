"""Malformed control messages and RPC payloads of every kind, at the broker's front and at
a node: each is counted under its reason and dropped, nothing of it applied, nothing
raised (the receivers are driven directly, without sockets; docs/bus-protocol.md, "Bad
input"). Maps may carry keys a version does not know (ignored); list-shaped payloads
have exactly their documented elements.
"""

from __future__ import annotations

import asyncio
import logging
import time

import msgpack
import pytest

from hmi.bus import Bus, expose
from hmi.bus.broker import Broker
from hmi.bus.net.noderpc import _Call
from hmi.bus.net.transport import ZmqTransport
from hmi.bus.wire.address import BrokerAddress
from hmi.bus.wire.control import node_notice
from hmi.bus.wire.frames import MAX_PAYLOAD, FrameError, Kind, encode, pack_header

T = 1.7e9
HELLO = {"name": "pumps", "pid": 42, "host": "h1", "targets": [], "heartbeat": 0.5}
#: not MessagePack at all (0xc1 is never used)
GARBAGE = b"\xc1"


class Sink:
    """Stands in for a socket send: keeps what would have been sent."""

    def __init__(self):
        self.sent = []

    def __call__(self, *args):
        self.sent.append(args)
        return True


def frames(kind, topic, payload, sender="n1"):
    data = payload if isinstance(payload, bytes) else msgpack.packb(payload)
    return [topic.encode(), pack_header(kind, sender, 0, T), data]


@pytest.fixture
def broker():
    """A broker without sockets, and a node n1 that said hello and serves ``pump``."""
    broker = Broker("tcp://127.0.0.1:1", write_state_file=False, fast_path=False)
    broker._route = Sink()
    broker._forward = Sink()
    broker._on_front([b"n1", *frames(Kind.HELLO, "$sys/broker", HELLO)], "")
    broker._on_front([b"n1", *frames(Kind.EXPOSE, "$sys/broker", ["pump", True])], "")
    broker._route.sent.clear()
    broker._forward.sent.clear()
    return broker


def state(broker):
    node = broker.nodes[b"n1"]
    return (
        node.name,
        node.pid,
        node.host,
        node.heartbeat,
        node.alive,
        dict(broker.targets),
        len(broker.doors.calls),
    )


@pytest.mark.parametrize(
    ("kind", "topic", "payload", "reason"),
    [
        (Kind.HELLO, "$sys/broker", {"name": "x", "pid": "42"}, "hello"),
        (Kind.HELLO, "$sys/broker", {"name": "x", "targets": "valve"}, "hello"),
        (Kind.HELLO, "$sys/broker", {"name": "x", "targets": ["valve", 3]}, "hello"),
        (Kind.HELLO, "$sys/broker", {"name": ["x"]}, "hello"),
        (Kind.HELLO, "$sys/broker", {"heartbeat": "fast"}, "hello"),
        (Kind.HELLO, "$sys/broker", ["pumps", 42], "hello"),
        (Kind.HELLO, "$sys/broker", None, "hello"),
        (Kind.HELLO, "$sys/broker", GARBAGE, "payload_msgpack"),
        (Kind.HEARTBEAT, "$sys/broker", {"pid": "42"}, "heartbeat"),
        (Kind.HEARTBEAT, "$sys/broker", {"pid": 43, "heartbeat": True}, "heartbeat"),
        (Kind.HEARTBEAT, "$sys/broker", "alive", "heartbeat"),
        (Kind.EXPOSE, "$sys/broker", ["valve"], "expose"),
        (Kind.EXPOSE, "$sys/broker", ["valve", "yes"], "expose"),
        (Kind.EXPOSE, "$sys/broker", ["valve", True, "more"], "expose"),
        (Kind.EXPOSE, "$sys/broker", ["pump", 0], "expose"),
        (Kind.EXPOSE, "$sys/broker", {"target": "valve", "exposed": True}, "expose"),
        (Kind.EXPOSE, "$sys/broker", [7, True], "expose"),
        (Kind.SNAPSHOT_REQ, "$sys/snapshot", 7, "snapshot_request"),
        (Kind.SNAPSHOT_REQ, "$sys/snapshot", ["tag/"], "snapshot_request"),
        (Kind.RPC_REQ, "rpc/pump", [1, "speed", [], {}, "more"], "rpc_request"),
        (Kind.RPC_REQ, "rpc/pump", ["1", "speed", [], {}], "rpc_request"),
        (Kind.RPC_REQ, "rpc/pump", [True, "speed", [], {}], "rpc_request"),
        (Kind.RPC_REQ, "rpc/pump", [1, "speed", {}, []], "rpc_request"),
        (Kind.RPC_REQ, "rpc/pump", [1, "speed", []], "rpc_request"),
        (Kind.RPC_REQ, "rpc/pump", {"call_id": 1}, "rpc_request"),
        (Kind.RPC_REQ, "cmd/pump", [1, "speed", [], {}], "rpc_request"),
        (Kind.RPC_REQ, "rpc/pump", GARBAGE, "payload_msgpack"),
        (Kind.RPC_REP, "rpc/n2", [1, "yes", 3], "rpc_reply"),
        (Kind.RPC_REP, "rpc/n2", [1.5, True, 3], "rpc_reply"),
        (Kind.RPC_REP, "rpc/n2", [1, True], "rpc_reply"),
        (Kind.RPC_REP, "rpc/n2", "done", "rpc_reply"),
        (Kind.BYE, "$sys/broker", GARBAGE, "payload_msgpack"),
    ],
)
def test_the_broker_counts_and_drops_a_malformed_control_payload(
    broker, kind, topic, payload, reason
):
    before = state(broker)
    broker._on_front([b"n1", *frames(kind, topic, payload)], "")
    assert broker.stats.drops[reason] == 1
    assert sum(broker.stats.drops.values()) == 1
    assert state(broker) == before  # nothing of it applied
    assert broker._route.sent == [] and broker._forward.sent == []  # nothing answered, routed
    assert broker.stats.refused == 0


def test_the_broker_says_which_field_is_wrong_once_per_interval(broker, caplog):
    with caplog.at_level(logging.WARNING, logger="hmi.bus.broker.server"):
        for pid in ("a", "b", "c"):
            broker._on_front([b"n1", *frames(Kind.HELLO, "$sys/broker", {"pid": pid})], "")
    assert broker.stats.drops["hello"] == 3
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (
        "dropped (hello): connection 'n1': HELLO: Expected `int`, got `str` - at `$.pid`"
    )


def test_the_broker_drops_an_oversized_payload(broker):
    broker._on_front([b"n1", *frames(Kind.HELLO, "$sys/broker", b"\x00" * (MAX_PAYLOAD + 1))], "")
    assert broker.stats.drops["payload_size"] == 1 and broker._route.sent == []


def test_unknown_keys_of_maps_are_ignored_and_missing_ones_take_their_defaults(broker):
    future = {**HELLO, "name": "pumps-2", "zone": {"area": 1}, "capabilities": ["x"]}
    broker._on_front([b"n1", *frames(Kind.HELLO, "$sys/broker", future)], "")
    assert broker.nodes[b"n1"].name == "pumps-2"
    broker._on_front([b"n1", *frames(Kind.HEARTBEAT, "$sys/broker", {"load": 0.3})], "")
    assert broker.nodes[b"n1"].pid == 42 and broker.nodes[b"n1"].heartbeat == 0.5
    assert sum(broker.stats.drops.values()) == 0
    # a foreign client's minimal hello (docs/bus-protocol.md): welcomed
    broker._on_front([b"f1", *frames(Kind.HELLO, "$sys/broker", {"name": "f", "pid": 0}, "f1")], "")
    welcome = [sent for sent in broker._route.sent if sent[0] == b"f1"]
    expected = {
        "id": broker.id,
        "pub": "",
        "heartbeat": 1.0,
        "ticket_key": b"",
        "publish": None,  # no policy: anything
        "serve": None,
        "refused": [],
    }
    assert msgpack.unpackb(welcome[0][1][2]) == expected


def test_a_call_on_a_topic_other_than_rpc_is_never_routed(broker):
    """The target is the rest of the topic: a right to publish on ``cmd/`` must not become
    a right to call ``pump`` as ``cmd/pump``."""
    broker._on_front([b"n2", *frames(Kind.RPC_REQ, "cmd/pump", [1, "speed", [], {}], "n2")], "")
    broker._on_front([b"n2", *frames(Kind.RPC_REQ, "rpc/pump", [2, "speed", [], {}], "n2")], "")
    assert broker.stats.drops["rpc_request"] == 1
    (routed,) = broker._route.sent
    assert routed[0] == b"n1" and msgpack.unpackb(routed[1][2])[0] == 2


def test_the_broker_writes_what_the_protocol_documents(broker):
    """The typed messages keep the wire format: ROUTE, the LookupError reply, and the
    node notices are the lists and maps docs/bus-protocol.md shows."""
    broker.nodes[b"n1"].rpc = "tcp://127.0.0.1:5999"
    broker._on_front([b"n2", *frames(Kind.RPC_REQ, "rpc/pump", [5, "speed", [1], {}], "n2")], "")
    broker._on_front([b"n2", *frames(Kind.RPC_REQ, "rpc/valve", [6, "open", [], {}], "n2")], "")
    payloads = [msgpack.unpackb(sent[1][2]) for sent in broker._route.sent]
    assert payloads[1] == ["pump", "tcp://127.0.0.1:5999"]  # ROUTE [target, endpoint]
    assert payloads[2] == [6, False, ["LookupError", "no RPC target 'valve'"]]
    broker._on_front([b"n1", *frames(Kind.BYE, "$sys/broker", None)], "")
    topic, _, payload = broker._forward.sent[-1][0]
    assert topic == b"$sys/node/n1/dead"
    dead = {"id": "n1", "name": "pumps", "host": "h1", "targets": ["pump"], "why": "stopped"}
    assert msgpack.unpackb(payload) == dead
    notice = node_notice(topic.decode(), msgpack.unpackb(payload))
    assert (notice.id, notice.why, notice.targets) == ("n1", "stopped", ["pump"])


# -- a node ---------------------------------------------------------------------------------
def node():
    bus = Bus.local(name="node")
    transport = ZmqTransport(bus, BrokerAddress.parse("tcp://127.0.0.1:1"), node_id="me")
    transport.send_front = Sink()
    return bus, transport


def dealer(transport, kind, topic, payload, sender="$broker"):
    transport._on_dealer(frames(kind, topic, payload, sender))


@pytest.mark.parametrize(
    ("kind", "topic", "payload", "reason"),
    [
        (Kind.HELLO, "$sys/broker", {"id": 7}, "welcome"),
        (Kind.HELLO, "$sys/broker", {"id": ""}, "welcome"),
        (Kind.HELLO, "$sys/broker", {"pub": ""}, "welcome"),
        (Kind.HELLO, "$sys/broker", {"id": "b1", "heartbeat": "1"}, "welcome"),
        (Kind.HELLO, "$sys/broker", {"id": "b1", "pub": 5570}, "welcome"),
        (Kind.HELLO, "$sys/broker", "b1", "welcome"),
        (Kind.ROUTE, "rpc/pump", ["pump"], "route"),
        (Kind.ROUTE, "rpc/pump", ["pump", "udp://1.2.3.4:5"], "route"),
        (Kind.ROUTE, "rpc/pump", ["pump", "tcp://127.0.0.1:5", "more"], "route"),
        (Kind.SNAPSHOT, "$sys/snapshot", 3, "snapshot_end"),
        (Kind.SNAPSHOT, "tag/a", GARBAGE, "payload_msgpack"),
        (Kind.RPC_REQ, "rpc/me", [1, "speed"], "rpc_request"),
        (Kind.RPC_REQ, "rpc/me", [1, 2, [], {}], "rpc_request"),
        (Kind.RPC_REQ, "rpc/me", [1, "speed", [], {"k": 1}, None], "rpc_request"),
        (Kind.RPC_REP, "rpc/me", [1, None, 3], "rpc_reply"),
        (Kind.RPC_REP, "rpc/me", ["1", True, 3], "rpc_reply"),
        (Kind.REPUBLISH, "$sys/broker", GARBAGE, "payload_msgpack"),
    ],
)
def test_a_node_counts_and_drops_a_malformed_control_payload(kind, topic, payload, reason):
    async def main():
        bus, transport = node()
        served = []

        class Pump:
            @expose
            def speed(self, *args, **kwargs):
                served.append(args)
                return 1

        bus._targets["me"] = {"speed": Pump().speed}
        call = asyncio.get_running_loop().create_future()
        transport.rpc._calls[1] = _Call(call, "pump", "speed", 5.0)
        dealer(transport, kind, topic, payload)
        assert transport.drops[reason] == 1 and bus.stats.malformed == 1
        assert transport.session.broker_id == ""  # no welcome taken
        assert transport.rpc.routes == {}
        assert not call.done() and served == []
        assert transport.send_front.sent == []  # nothing answered
        await bus.close()

    asyncio.run(main())


def test_a_reply_with_a_malformed_error_fails_its_call_at_once_saying_why():
    async def main():
        bus, transport = node()
        call = asyncio.get_running_loop().create_future()
        transport.rpc._calls[4] = _Call(call, "pump", "speed", 5.0)
        dealer(transport, Kind.RPC_REP, "rpc/me", [4, False, "it broke"])
        assert transport.drops["rpc_reply"] == 1
        error = call.exception()
        assert error.remote_type == "ProtocolError"
        assert error.remote_message == "malformed reply: Expected `array`, got `str`"
        await bus.close()

    asyncio.run(main())


def test_a_forged_or_malformed_broker_heartbeat_changes_nothing():
    _, transport = node()
    for payload in ({"id": 3}, {"id": ""}, {"time": 1.0}, [1], {"id": "b", "heartbeat": "x"}):
        transport._on_sub(frames(Kind.PUB, "$sys/broker", payload, "$broker"))
    assert transport.drops["broker_beat"] == 5
    assert transport.send_front.sent == []  # not even a hello for an unknown broker id


def test_the_direct_endpoint_drops_a_malformed_request_unanswered():
    async def main():
        bus, transport = node()
        server = Sink()
        transport.rpc.routers._server = server
        transport.rpc.routers._server_reader = Sink()
        for payload in ([1, "speed", [], {}, 0], ["x"], GARBAGE):
            request = frames(Kind.RPC_REQ, "rpc/me", payload, "caller")
            transport.rpc.routers.on_request([b"caller", *request])
        assert transport.drops["rpc_request"] == 2 and transport.drops["payload_msgpack"] == 1
        assert server.sent == [] and transport.send_front.sent == []
        await bus.close()

    asyncio.run(main())


def test_node_notices_are_read_with_the_id_of_their_topic():
    assert node_notice("$sys/node/n1/alive", {"id": "x", "name": "a"}).id == "n1"
    alive = node_notice("$sys/node/n1/alive", {})
    assert (alive.name, alive.host, alive.targets) == ("", "", None)
    assert node_notice("$sys/node/n1/other", {}) is None
    assert node_notice("$sys/stats", {}) is None
    with pytest.raises(FrameError, match=r"node_notice: Expected `str`, got `int` - at `\$.why`"):
        node_notice("$sys/node/n1/dead", {"why": 3})


def test_what_nodes_send_is_what_the_protocol_documents():
    """HELLO, HEARTBEAT and EXPOSE as a node sends them (docs/bus-protocol.md)."""

    async def main():
        bus, transport = node()
        transport.session.hello()
        transport.expose("pump")
        transport.session._beat()  # (a node beats only once welcomed; its payload here)
        (hello,), (expose,), (beat,) = transport.send_front.sent
        assert set(msgpack.unpackb(hello[2])) == {
            "name",
            "pid",
            "host",
            "targets",
            "rpc",
            "heartbeat",
            "rpc_stream",
            "streams",
        }
        assert msgpack.unpackb(expose[2]) == ["pump", True]
        assert {"pid", "heartbeat"} <= set(msgpack.unpackb(beat[2]))
        await bus.close()

    asyncio.run(main())


def test_a_whole_frame_of_each_kind_still_parses_after_the_typed_decoding():
    # the frames themselves are unchanged: what hmi.bus.wire.frames.encode makes, nodes read
    message = encode("rpc/pump", Kind.RPC_REQ, "n1", 0, time.time(), [1, "speed", [2], {"x": 1}])
    _, transport = node()
    transport._on_dealer(message)  # a request for a target this node does not serve
    (reply,) = transport.send_front.sent
    assert msgpack.unpackb(reply[0][2]) == [1, False, ["LookupError", "no RPC target 'pump'"]]
