"""The broker's doors without sockets (hmi.bus.broker.doors, hmi.bus.net.auth): identities, the
broker's $sys/ topics, replies matched to routed requests, refusals counted and logged
at most once per interval, the policy file's serve: rights and its errors."""

from __future__ import annotations

import logging
import re

import msgpack
import pytest

from hmi.bus.broker.brokerstats import BrokerStats, NodeInfo
from hmi.bus.broker.doors import PendingCalls, Refusals, broker_only, identity_refusal
from hmi.bus.net.auth import ClientRule, Policy
from hmi.bus.net.keys import KeyPair
from hmi.bus.wire.control import REPLY_RAW, decode
from hmi.bus.wire.frames import FrameError


def test_a_sender_is_its_connections_routing_id_and_a_live_id_keeps_its_key():
    assert identity_refusal(b"n1", "n1", "", None) == ""
    assert identity_refusal(b"n1", "n2", "", None) == "sender"
    node = NodeInfo(b"n1", "n1", key="K1")
    assert identity_refusal(b"n1", "n1", "K1", node) == ""
    assert identity_refusal(b"n1", "n2", "K1", node) == "sender"
    assert identity_refusal(b"n1", "n1", "K2", node) == "key"
    node.alive = False  # dead: the id is free for another key (a new node)
    assert identity_refusal(b"n1", "n1", "K2", node) == ""


def test_only_device_status_is_a_nodes_under_sys():
    assert broker_only(b"$sys/broker") and broker_only(b"$sys/node/x/dead")
    assert broker_only(b"$sys/stats") and broker_only(b"$sys/snapshot")
    assert not broker_only(b"$sys/device/plc1")
    assert not broker_only(b"tag/a") and not broker_only(b"$probe/n1/1/")


def test_a_reply_is_matched_by_caller_callee_and_call_id_once():
    calls = PendingCalls(within=10.0, most=3)
    calls.routed(b"station", b"backend", 1, now=0.0)
    calls.routed(b"other", b"backend", 1, now=0.0)  # call ids are per caller
    assert not calls.answered(b"station", b"mallory", 1)  # another callee
    assert not calls.answered(b"station", b"backend", 2)
    assert calls.answered(b"station", b"backend", 1)
    assert not calls.answered(b"station", b"backend", 1)  # once
    assert calls.answered(b"other", b"backend", 1)
    assert len(calls) == 0


def test_waiting_requests_expire_and_are_bounded_per_caller():
    calls = PendingCalls(within=10.0, most=3)
    for call_id in range(1, 6):
        calls.routed(b"flood", b"sink", call_id, now=float(call_id))
    calls.routed(b"station", b"backend", 1, now=5.0)
    assert len(calls) == 4 and calls.overflow == 2  # flood's two oldest went, not station's
    assert not calls.answered(b"flood", b"sink", 1)
    assert calls.expire(now=14.5) == 2  # routed at 3 and 4: 10 s ago
    assert calls.answered(b"station", b"backend", 1)
    assert calls.expire(now=100.0) == 1 and len(calls) == 0
    calls.routed(b"gone", b"backend", 1, now=0.0)
    calls.forget(b"gone")
    assert len(calls) == 0


def test_refusals_are_counted_each_and_logged_once_per_interval(caplog):
    stats = BrokerStats()
    refusals = Refusals(stats, every=10.0)
    with caplog.at_level(logging.WARNING):
        for i in range(100):
            refusals.refuse("sender", now=1.0 + i * 0.01, detail=f"try {i}")
        refusals.refuse("serve", now=2.0, detail="another reason: its own line")
        refusals.refuse("sender", now=12.0, detail="later")
    assert stats.refused == 102 and stats.refusals == {"sender": 101, "serve": 1}
    assert stats.drops["refused"] == 102
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "refused (sender): try 0",
        "refused (serve): another reason: its own line",
        "refused (sender): later (and 99 more like it since the last line)",
    ]


@pytest.mark.parametrize("call_id", [0, 1, 127, 128, 65_536, 2**40, -1, -100, -(2**40)])
def test_the_call_id_of_a_reply_is_read_without_decoding_its_result(call_id):
    reply = decode(REPLY_RAW, msgpack.packb([call_id, True, {"big": "x" * 1000}]), "rpc_reply")
    assert reply.call_id == call_id and reply.ok is True
    # the result is skipped (its bytes kept as they are), never built
    assert bytes(reply.value) == msgpack.packb({"big": "x" * 1000})


@pytest.mark.parametrize(
    "data",
    [
        b"\x93",
        b"\x93\xcd\x01",
        msgpack.packb([1, True]),
        msgpack.packb("x"),
        msgpack.packb([1.0, True, None]),
        msgpack.packb([1, 1, None]),
        msgpack.packb([1, True, None, "more"]),
    ],
)
def test_what_is_not_a_reply_is_malformed_at_the_broker(data):
    with pytest.raises(FrameError) as raised:
        decode(REPLY_RAW, data, "rpc_reply")
    assert raised.value.reason in ("rpc_reply", "payload_msgpack")


def test_serve_rights_are_names_or_prefixes_ending_in_a_star():
    rule = ClientRule("b", "K", ("rpc/",), ("security", "line1-*"))
    assert rule.may_serve("security") and rule.may_serve("line1-pump")
    assert not rule.may_serve("security2") and not rule.may_serve("line2-pump")
    assert not ClientRule("s", "K", ("cmd/",)).may_serve("anything")
    assert ClientRule("any", "K", (), ("*",)).may_serve("anything")


def _policy(tmp_path, entry):
    key = KeyPair.generate().public
    (tmp_path / "clients.yaml").write_text(
        f'clients:\n  - {{name: backend, key: "{key}", {entry}}}\n'
    )
    return tmp_path / "clients.yaml"


def test_a_policy_file_gives_serve_rights(tmp_path):
    policy = Policy.load(_policy(tmp_path, 'publish: ["rpc/"], serve: ["security", "audit"]'))
    (rule,) = policy.rules.values()
    assert rule.serve == ("security", "audit") and rule.publish == ("rpc/",)


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ('serve: "security"', r"clients\[0\] \(backend\): serve must be a list"),
        ('serve: [""]', r"clients\[0\] \(backend\): serve must be a list"),
        ("publish: [1]", r"clients\[0\] \(backend\): publish must be a list"),
        ('serves: ["security"]', r"clients\[0\] \(backend\): unknown field 'serves'"),
    ],
)
def test_policy_errors_name_the_file_and_the_entry(tmp_path, entry, error):
    path = _policy(tmp_path, entry)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: {error}"):
        Policy.load(path)


def test_policy_errors_of_the_whole_file_name_it(tmp_path):
    path = tmp_path / "clients.yaml"
    path.write_text("clients: [\n")
    with pytest.raises(ValueError, match=re.escape(str(path)) + r":\d+: not valid YAML"):
        Policy.load(path)
    path.write_text("- just a list\n")
    with pytest.raises(ValueError, match="expected a map with a list of clients"):
        Policy.load(path)
    key = KeyPair.generate().public
    path.write_text(f'clients:\n  - {{name: a, key: "{key}"}}\n  - {{name: b, key: "{key}"}}\n')
    with pytest.raises(ValueError, match=r"clients\[1\] \(b\): the same key as clients\[0\] \(a\)"):
        Policy.load(path)
