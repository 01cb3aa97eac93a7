"""The GUI's alarm model: snapshot then transitions in order, coalesced changes, requests."""

from __future__ import annotations

import asyncio

from hmi.core.alarms import AlarmState
from hmi.core.tagstore import TagStore
from hmi.qt.alarms import AlarmModel
from hmi.qt.binding import Binder
from tests.qt.alarm_support import T0, FakeEngine, status, transition

A, B, C = "area1/t101/level", "area1/ft101/flow", "area1/p101/tripped"
UNACK, ACK = AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED


def test_snapshot_then_transitions_in_order_and_stale_ones_ignored(qapp):
    model = AlarmModel()
    seen = []
    model.changed.connect(seen.append)
    model.load_snapshot(
        [
            status(A, UNACK, T0).to_dict(),
            status(B, ACK, T0, priority=1),
            status(C, AlarmState.NORMAL, T0),
        ]
    )
    assert [s.tag for s in model.listed()] == [A, B]  # normal alarms are not listed
    assert seen == [frozenset({A, B, C})]

    assert model.apply(transition(A, ACK, T0 + 2, previous=UNACK))
    # A transition older than what we hold (reordered on the way) changes nothing.
    assert not model.apply(transition(A, UNACK, T0 + 1))
    assert model.status(A).state is ACK
    # Same time: arrival order is the engine's order (acknowledge, then clear).
    assert model.apply(transition(A, AlarmState.NORMAL, T0 + 2, previous=ACK))
    assert model.status(A).state is AlarmState.NORMAL
    assert [s.tag for s in model.listed()] == [B]


def test_a_snapshot_overtaken_by_transitions_does_not_roll_them_back(qapp):
    model = AlarmModel()
    # The engine acknowledged A at T0+5 and published it; its snapshot reply (taken a
    # moment before, or arriving late over another path) says UNACK at T0+5 or earlier.
    model.apply(transition(A, ACK, T0 + 5, previous=UNACK))
    taken = model.load_snapshot([status(A, UNACK, T0 + 5), status(B, UNACK, T0 + 1)])
    assert taken == 1
    assert model.status(A).state is ACK and model.status(B).state is UNACK


def test_changes_are_coalesced_to_one_signal_per_frame(qapp):
    binder = Binder(TagStore())
    model = AlarmModel(binder)
    frames = []
    model.changed.connect(frames.append)
    for i in range(500):
        model.apply(transition(f"plant/t{i % 50}/level", UNACK, T0 + i))
    assert frames == []  # nothing until the repaint timer's frame
    binder.flush()
    assert frames == [frozenset(f"plant/t{i}/level" for i in range(50))]
    binder.flush()
    assert len(frames) == 1  # a quiet frame emits nothing


def test_most_important_first_unacknowledged_then_priority_then_newest(qapp):
    model = AlarmModel()
    model.load_snapshot(
        [
            status("x/acked/p1", ACK, T0 + 9, priority=1),
            status("x/unack/p3/old", UNACK, T0 + 1, priority=3),
            status("x/unack/p3/new", UNACK, T0 + 5, priority=3),
            status("x/unack/p2", UNACK, T0, priority=2),
            status("x/shelved", AlarmState.SHELVED, T0, priority=1),
        ]
    )
    assert [s.tag for s in model.annunciated()] == [
        "x/unack/p2",
        "x/unack/p3/new",
        "x/unack/p3/old",
        "x/acked/p1",
    ]
    assert len(model.listed()) == 5  # the summary lists the shelved one too


def test_acknowledge_sends_the_tags_once_each_and_reports_refused_ones(qapp):
    model = AlarmModel()
    engine = FakeEngine(refuse_tags={B: "cannot acknowledge an alarm in state normal"})
    model.service = engine.service()
    failures = []
    model.request_failed.connect(failures.append)
    done = asyncio.run(model.acknowledge([A, B, A]))
    assert engine.calls == [("acknowledge", [A, B], "")]
    assert done == [A]
    assert failures == [f"acknowledge refused for {B}: cannot acknowledge an alarm in state normal"]


def test_a_refused_request_is_reported_without_the_remote_type_name(qapp):
    model = AlarmModel()
    model.service = FakeEngine(refuse="PermissionError: viewer may not do this").service()
    failures = []
    model.request_failed.connect(failures.append)
    assert asyncio.run(model.acknowledge([A])) == []
    assert not asyncio.run(model.unshelve(A))
    assert failures == [
        "acknowledge refused: viewer may not do this",
        f"unshelve {A} refused: viewer may not do this",
    ]


def test_shelve_needs_a_reason_and_a_bounded_duration_before_asking(qapp):
    model = AlarmModel()
    engine = FakeEngine()
    model.service = engine.service(max_shelve=3600.0)
    failures = []
    model.request_failed.connect(failures.append)
    assert not asyncio.run(model.shelve(A, "  ", 600))
    assert not asyncio.run(model.shelve(A, "repair", 7200))
    assert engine.calls == []
    assert asyncio.run(model.shelve(A, "repair", 600))
    assert engine.calls == [("shelve", A, "repair", 600)]
    assert failures[0].endswith("a reason is required")
    assert "3600" in failures[1]


def test_without_an_engine_requests_say_so(qapp):
    model = AlarmModel()  # Designer, or the backend not connected
    failures = []
    model.request_failed.connect(failures.append)
    assert asyncio.run(model.acknowledge([A])) == []
    assert failures == ["acknowledge refused: no alarm service connected"]


def test_a_request_without_an_event_loop_is_reported_not_lost(qapp):
    model = AlarmModel()  # e.g. a banner previewed in Designer: no loop to send on
    model.service = FakeEngine().service()
    failures = []
    model.request_failed.connect(failures.append)
    assert model.request(model.acknowledge([A])) is None
    assert failures == ["no event loop: the request was not sent"]


def test_synced_only_between_a_snapshot_and_a_lost_link(qapp):
    model = AlarmModel()
    seen = []
    model.changed.connect(seen.append)
    model.apply(transition(A, UNACK, T0))
    assert not model.synced  # transitions alone do not tell about the other alarms
    model.load_snapshot([])  # a plant with no alarm active and nothing newer
    assert model.synced and seen[-1] == frozenset()  # views hear of it, with no tag
    model.lost()
    assert not model.synced and len(seen) == 3
    assert model.status(A).state is UNACK  # kept, shown as possibly stale
