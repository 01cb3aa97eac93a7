"""One tag's alarm: delays, BAD quality, shelving, suppression, out of service."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hmi.core.alarms import (
    Alarm,
    AlarmRequestError,
    AlarmState,
    AlarmTransition,
    BadQualityPolicy,
    Event,
    Level,
)
from hmi.core.alarms.records import AlarmStatus
from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample
from hmi.core.tag import AlarmLimits

S = AlarmState
TAG = "plant/tank1/level"
BAD = Quality.bad(Reason.NO_COMMUNICATION)
GOOD = Quality.good()


def feed(alarm: Alarm, value: float, now: float, quality: Quality = GOOD) -> list[Event]:
    return [t.event for t in alarm.update(Sample(value, quality, now, now), now)]


def test_full_cycle_activate_ack_clear() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0, priority=1, message="Tank high"))
    assert feed(alarm, 50, 0) == []
    [t] = alarm.update(Sample(85.0), 1.0)
    assert (t.event, t.previous, t.state) == (Event.ACTIVATE, S.NORMAL, S.UNACKNOWLEDGED)
    assert t.status.level is Level.HI and t.status.priority == 1
    assert t.status.message == "Tank high" and t.status.active_since == 1.0
    assert t.annunciates
    [ack] = alarm.acknowledge("alice", 2.0, "seen")
    assert (ack.state, ack.user, ack.comment, ack.status.user) == (
        S.ACKNOWLEDGED,
        "alice",
        "seen",
        "alice",
    )
    assert not ack.annunciates
    assert feed(alarm, 70, 3) == [Event.CLEAR]
    assert alarm.state is S.NORMAL and alarm.status.active_since is None


def test_return_to_normal_unacknowledged_then_ack() -> None:
    alarm = Alarm(TAG, AlarmLimits(lo=10.0))
    feed(alarm, 5, 0)
    feed(alarm, 15, 1)
    assert alarm.state is S.RETURNED_UNACKNOWLEDGED
    alarm.acknowledge("bob", 2)
    assert alarm.state is S.NORMAL


def test_escalation_reannunciates_an_acknowledged_alarm() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0, hihi=95.0))
    feed(alarm, 85, 0)
    alarm.acknowledge("alice", 1)
    assert feed(alarm, 96, 2) == [Event.ESCALATE]
    assert alarm.state is S.UNACKNOWLEDGED and alarm.status.level is Level.HIHI
    alarm.acknowledge("alice", 3)
    assert feed(alarm, 90, 4) == [Event.DEESCALATE]
    assert alarm.state is S.ACKNOWLEDGED and alarm.status.level is Level.HI
    assert alarm.status.active_since == 0  # still the same episode


def test_on_delay_needs_the_condition_to_last() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0, on_delay=5.0))
    feed(alarm, 85, 0)
    assert alarm.next_deadline() == 5.0
    assert alarm.tick(4.9) == []
    feed(alarm, 70, 4.95)  # gone before the delay ran out: nothing happened
    assert alarm.next_deadline() is None and alarm.state is S.NORMAL
    feed(alarm, 85, 10)
    [t] = alarm.tick(15.0)
    assert t.event is Event.ACTIVATE and t.status.active_since == 15.0


def test_off_delay_needs_the_clear_to_last() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0, off_delay=3.0))
    feed(alarm, 85, 0)
    alarm.acknowledge("alice", 0.5)
    feed(alarm, 70, 1)
    assert alarm.tick(3.9) == [] and alarm.state is S.ACKNOWLEDGED
    assert feed(alarm, 86, 3.95) == [] and alarm.next_deadline() is None
    feed(alarm, 70, 10)
    assert [t.event for t in alarm.tick(13)] == [Event.CLEAR]


def test_on_delay_keeps_running_while_the_level_moves_within_the_abnormal_side() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0, hihi=90.0, on_delay=5.0))
    feed(alarm, 85, 0)
    feed(alarm, 95, 3)
    [t] = alarm.tick(5)
    assert t.event is Event.ACTIVATE and t.status.level is Level.HIHI


def test_bad_quality_holds_an_active_alarm_and_is_journalled() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0))
    feed(alarm, 85, 0)
    # The device goes silent with a harmless-looking last value: the alarm must stay.
    [t] = alarm.update(Sample(20.0, BAD), 1)
    assert t.event is Event.QUALITY and t.status.input_bad
    assert alarm.state is S.UNACKNOWLEDGED and alarm.status.level is Level.HI
    assert alarm.tick(1000) == [] and alarm.state is S.UNACKNOWLEDGED


def test_bad_quality_back_to_good_clears_in_order() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0))
    feed(alarm, 85, 0)
    alarm.update(Sample(20.0, BAD), 1)
    events = [t.event for t in alarm.update(Sample(20.0), 2)]
    assert events == [Event.QUALITY, Event.CLEAR]
    assert alarm.state is S.RETURNED_UNACKNOWLEDGED


def test_bad_quality_hold_does_not_raise_a_new_alarm_nor_finish_a_delay() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0, on_delay=5.0))
    feed(alarm, 85, 0)
    assert feed(alarm, 85, 1, BAD) == [Event.QUALITY]
    assert alarm.tick(10) == [] and alarm.state is S.NORMAL


def test_bad_quality_policy_alarm_annunciates_bad() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0), BadQualityPolicy.ALARM)
    assert feed(alarm, 50, 0, BAD) == [Event.QUALITY, Event.ACTIVATE]
    assert alarm.status.level is Level.BAD and alarm.state is S.UNACKNOWLEDGED
    assert feed(alarm, 50, 1) == [Event.QUALITY, Event.CLEAR]


def test_shelve_hides_until_expiry_then_annunciates_if_still_active() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0))
    feed(alarm, 85, 0)
    [t] = alarm.shelve("alice", "sensor being replaced", until=100.0, now=1.0)
    assert t.state is S.SHELVED and t.comment == "sensor being replaced"
    assert t.status.shelved_until == 100.0 and t.status.shelve_reason == "sensor being replaced"
    assert feed(alarm, 70, 2) == [Event.CLEAR] and alarm.state is S.SHELVED
    assert feed(alarm, 90, 3) == [Event.ACTIVATE] and alarm.state is S.SHELVED
    assert alarm.next_deadline() == 100.0
    [t] = alarm.tick(100.0)
    assert t.event is Event.SHELVE_EXPIRED and t.state is S.UNACKNOWLEDGED
    assert not t.status.shelved and t.status.shelved_until is None


def test_unshelve_an_inactive_alarm_returns_to_normal() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0))
    feed(alarm, 85, 0)
    alarm.shelve("alice", "nuisance", until=100.0, now=1.0)
    feed(alarm, 70, 2)
    [t] = alarm.unshelve("bob", 3)
    assert (t.event, t.state, t.user) == (Event.UNSHELVE, S.NORMAL, "bob")


@pytest.mark.parametrize(("reason", "until", "match"), [("", 10.0, "reason"), ("x", 0.5, "future")])
def test_shelve_needs_a_reason_and_a_future_expiry(reason: str, until: float, match: str) -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0))
    with pytest.raises(AlarmRequestError, match=match):
        alarm.shelve("alice", reason, until, now=1.0)
    assert alarm.state is S.NORMAL and not alarm.status.shelved


def test_refused_requests_change_nothing() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0))
    with pytest.raises(AlarmRequestError):
        alarm.acknowledge("alice", 0)
    with pytest.raises(AlarmRequestError):
        alarm.unshelve("alice", 0)
    with pytest.raises(AlarmRequestError):
        alarm.return_to_service("alice", 0)
    alarm.set_suppressed(True, 0)
    with pytest.raises(AlarmRequestError):
        alarm.shelve("alice", "why", 10, 1)
    assert not alarm.status.shelved and alarm.state is S.SUPPRESSED


def test_suppression_by_design_and_out_of_service_layer_correctly() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0))
    feed(alarm, 85, 0)
    alarm.shelve("alice", "nuisance", until=1000.0, now=1)
    assert [t.state for t in alarm.set_suppressed(True, 2)] == [S.SUPPRESSED]
    assert [t.state for t in alarm.remove_from_service("eve", "calibration", 3)] == [
        S.OUT_OF_SERVICE
    ]
    assert alarm.set_suppressed(False, 4)[0].state is S.OUT_OF_SERVICE
    assert alarm.return_to_service("eve", 5)[0].state is S.SHELVED  # still shelved
    assert alarm.unshelve("alice", 6)[0].state is S.UNACKNOWLEDGED  # still active


def test_out_of_service_needs_a_reason() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0))
    with pytest.raises(AlarmRequestError, match="reason"):
        alarm.remove_from_service("eve", " ", 0)


def test_discrete_alarm() -> None:
    alarm = Alarm("plant/pump1/trip", AlarmLimits(state=True, priority=2))
    assert [t.event for t in alarm.update(Sample(True), 0)] == [Event.ACTIVATE]
    assert alarm.status.level is Level.STATE
    assert [t.event for t in alarm.update(Sample(False), 1)] == [Event.CLEAR]


def test_records_round_trip_through_plain_dicts() -> None:
    alarm = Alarm(TAG, AlarmLimits(hi=80.0))
    feed(alarm, 85, 0)
    [t] = alarm.shelve("alice", "nuisance", until=100.0, now=1.0)
    data = t.to_dict()
    assert all(isinstance(v, str | int | float | bool | type(None)) for v in data.values())
    assert AlarmTransition.from_dict(data) == t
    assert AlarmStatus.from_dict(t.status.to_dict()) == t.status


# -- properties over random histories -------------------------------------------------------
OPS = st.one_of(
    st.tuples(st.just("value"), st.floats(0, 100)),
    st.tuples(st.just("bad"), st.floats(0, 100)),
    st.tuples(st.just("tick"), st.just(0.0)),
    st.tuples(st.just("ack"), st.just(0.0)),
    st.tuples(st.just("shelve"), st.floats(1, 50)),
    st.tuples(st.just("unshelve"), st.just(0.0)),
    st.tuples(st.just("suppress"), st.booleans().map(float)),
    st.tuples(st.just("oos"), st.just(0.0)),
    st.tuples(st.just("ris"), st.just(0.0)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(OPS, st.floats(0, 10)), max_size=60),
    st.sampled_from(list(BadQualityPolicy)),
)
def test_state_always_agrees_with_flags_and_condition(
    ops: list[tuple[tuple[str, float], float]], policy: BadQualityPolicy
) -> None:
    """Whatever happens, in whatever order: the state matches the flags and the condition.

    Out of service beats suppression beats shelving; in the life cycle an alarm is
    unacknowledged or acknowledged exactly while its condition is active.
    """
    limits = AlarmLimits(lo=20.0, hi=80.0, hihi=90.0, deadband=2.0, on_delay=3.0, off_delay=2.0)
    alarm = Alarm(TAG, limits, policy)
    now = 0.0
    journal: list[AlarmTransition] = []
    for (op, arg), dt in ops:
        now += dt
        with contextlib.suppress(AlarmRequestError):
            journal += _apply(alarm, op, arg, now)
        st_ = alarm.status
        if st_.out_of_service:
            assert st_.state is S.OUT_OF_SERVICE
        elif st_.suppressed:
            assert st_.state is S.SUPPRESSED
        elif st_.shelved:
            assert st_.state is S.SHELVED
        else:
            assert (st_.state in (S.UNACKNOWLEDGED, S.ACKNOWLEDGED)) == st_.active
        assert (st_.active_since is None) == (not st_.active)
        deadline = alarm.next_deadline()
        if deadline is not None and deadline <= now:
            # Whatever is due, one tick does it: the caller never has to spin.
            journal += alarm.tick(now)
            after = alarm.next_deadline()
            assert after is None or after > now
    # The journal is a chain: each transition starts where the previous one ended.
    for before, after in itertools.pairwise(journal):
        assert after.previous is before.state
        assert after.time >= before.time


def _apply(alarm: Alarm, op: str, arg: float, now: float) -> list[AlarmTransition]:
    if op == "value":
        return alarm.update(Sample(arg), now)
    if op == "bad":
        return alarm.update(Sample(arg, BAD), now)
    if op == "tick":
        return alarm.tick(now)
    if op == "ack":
        return alarm.acknowledge("op", now)
    if op == "shelve":
        return alarm.shelve("op", "test", now + arg, now)
    if op == "unshelve":
        return alarm.unshelve("op", now)
    if op == "suppress":
        return alarm.set_suppressed(bool(arg), now)
    if op == "oos":
        return alarm.remove_from_service("eng", "maintenance", now)
    return alarm.return_to_service("eng", now)
