"""Snapshots and live batches in the right order (hmi.bus.net.resync, no sockets)."""

from __future__ import annotations

from hmi.bus.net.resync import PROBE_WAIT, SNAPSHOT_WAIT, Resync


def make():
    requests, delivered = [], []
    resync = Resync(
        requests.append, lambda topic, payload, sender: delivered.append((topic, payload))
    )
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


def probing():
    requests, delivered, probes, unprobes = [], [], [], []
    resync = Resync(
        requests.append,
        lambda topic, payload, sender: delivered.append((topic, payload)),
        probes.append,
        unprobes.append,
    )
    return resync, requests, delivered, probes, unprobes


def test_a_joined_prefix_is_asked_for_once_its_probe_is_back():
    resync, requests, delivered, probes, unprobes = probing()
    resync.join(["tag/line1"], now=0.0, attached=True)
    assert probes == [1] and requests == []  # first the probe: is the subscription there?
    live(resync, delivered, "tag/line1/plc", "live")  # held from the subscription on
    resync.on_probe(1, now=0.01)
    assert requests == ["tag/line1"] and unprobes == [1]
    delivered.append(("tag/line1/plc", "snapshot"))
    resync.on_end("tag/line1")
    assert delivered == [("tag/line1/plc", "snapshot"), ("tag/line1/plc", "live")]
    resync.on_probe(1, now=0.02)  # again (published twice, both came back): nothing
    assert requests == ["tag/line1"]


def test_a_probe_made_before_the_sub_was_connected_is_made_again():
    resync, requests, _, probes, unprobes = probing()
    resync.join(["tag/"], now=0.0, attached=False)
    resync.on_probe(1, now=0.1)  # the SUB is connected now, but the order is unknown
    assert requests == [] and probes == [1, 2] and unprobes == [1]
    resync.on_probe(2, now=0.2)
    assert requests == ["tag/"]


def test_a_probe_back_answers_for_the_probes_made_before_it():
    resync, requests, _, _, unprobes = probing()
    resync.join(["tag/a"], now=0.0, attached=True)
    resync.join(["tag/b"], now=0.0, attached=True)
    resync.on_probe(2, now=0.1)  # probe 1 was lost: 2 came later on the same socket
    assert sorted(requests) == ["tag/a", "tag/b"] and sorted(unprobes) == [1, 2]
    resync.on_probe(1, now=0.2)  # late: already answered for
    assert len(requests) == 2 and not resync.probes


def test_a_probe_that_never_comes_back_asks_anyway_and_a_new_broker_starts_afresh():
    resync, requests, delivered, probes, unprobes = probing()
    resync.join(["tag/"], now=0.0, attached=True)
    live(resync, delivered, "tag/x", 1)
    resync.expire(now=PROBE_WAIT / 2)
    assert requests == []
    resync.expire(now=PROBE_WAIT + 0.1)  # e.g. a broker that drops probes
    assert requests == ["tag/"] and resync.unanswered == 1 and unprobes == [1]
    assert delivered == []  # still held: the answer may come
    resync.join(["tag/"], now=10.0, attached=True)
    resync.restart(["tag/", "tag/y"], now=10.0, attached=True)  # a new broker's welcome
    assert unprobes == [1, 2] and probes == [1, 2, 3]
    assert resync.asked.keys() == {"tag/", "tag/y"}  # only what the new broker is asked
    assert delivered == []
    resync.on_probe(3, now=10.1)
    assert requests[-2:] == ["tag/", "tag/y"]
    resync.on_end("tag/")
    assert delivered == [("tag/x", 1)]
