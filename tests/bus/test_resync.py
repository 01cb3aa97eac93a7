"""Snapshots and live batches in the right order (hmi.bus.resync, no sockets)."""

from __future__ import annotations

from hmi.bus.resync import SNAPSHOT_WAIT, Resync


def make():
    requests, delivered = [], []
    resync = Resync(requests.append, lambda topic, payload: delivered.append((topic, payload)))
    return resync, requests, delivered


def live(resync, delivered, topic, payload):
    """What the transport does with a live tag/ batch."""
    if resync.asked and resync.holds(topic):
        resync.hold(topic, payload)
    else:
        delivered.append((topic, payload))


def test_a_live_batch_newer_than_the_snapshot_is_delivered_after_it():
    resync, requests, delivered = make()
    resync.ask("tag/line1", now=0.0)
    assert requests == ["tag/line1"]
    live(resync, delivered, "tag/line1/plc", "new")  # overtook the snapshot
    live(resync, delivered, "tag/line2/plc", "other")  # not asked for: at once
    delivered.append(("tag/line1/plc", "snapshot"))  # the answer (older values)
    resync.on_end("tag/line1")
    live(resync, delivered, "tag/line1/plc", "newer")
    assert delivered == [
        ("tag/line2/plc", "other"),
        ("tag/line1/plc", "snapshot"),
        ("tag/line1/plc", "new"),
        ("tag/line1/plc", "newer"),
    ]


def test_each_request_needs_its_answer_and_other_prefixes_go_first():
    resync, _, delivered = make()
    resync.ask("tag/a", now=0.0)
    resync.ask("tag/a", now=0.0)  # a resync after a gap, while the first is out
    resync.ask("tag/b", now=0.0)
    live(resync, delivered, "tag/a/x", 1)
    live(resync, delivered, "tag/b/y", 2)
    resync.on_end("tag/b")
    assert delivered == [("tag/b/y", 2)]
    resync.on_end("tag/a")
    assert delivered == [("tag/b/y", 2)]  # one answer of two
    resync.on_end("tag/a")
    assert delivered == [("tag/b/y", 2), ("tag/a/x", 1)]
    resync.on_end("tag/zzz")  # an answer nobody waits for: ignored
    resync.on_end(["not", "text"])


def test_live_batches_are_not_held_forever():
    resync, _, delivered = make()
    resync.ask("tag/", now=10.0)
    live(resync, delivered, "tag/a/x", 1)
    resync.expire(now=10.0 + SNAPSHOT_WAIT / 2)
    assert delivered == []
    resync.expire(now=10.0 + SNAPSHOT_WAIT + 0.1)  # no answer: the broker is old or gone
    assert delivered == [("tag/a/x", 1)]
    resync.ask("tag/", now=20.0)
    live(resync, delivered, "tag/a/x", 2)
    resync.forget()  # the broker is lost
    assert delivered[-1] == ("tag/a/x", 2)
    assert not resync.asked and not resync.held
