"""An alarm's activation, acknowledge and shelve times are three fields (issue 14, item 5):
acknowledging or shelving an alarm never changes when it came."""

from __future__ import annotations

from hmi.core.alarms import Alarm, AlarmState, AlarmStatus, Level
from hmi.core.quality import Quality
from hmi.core.sample import Sample
from hmi.core.tag import AlarmLimits

T0 = 1_700_000_000.0


def _alarm() -> Alarm:
    return Alarm("plant/tank/level", AlarmLimits(hi=80.0, priority=2), now=T0)


def _feed(alarm: Alarm, value: float, now: float) -> None:
    alarm.update(Sample(value, Quality.good(), now), now)


def test_activation_ack_and_shelve_each_keep_their_own_time():
    alarm = _alarm()
    _feed(alarm, 85.0, T0 + 10)
    status = alarm.status
    assert (status.activated_at, status.acked_at, status.shelved_at) == (T0 + 10, None, None)
    alarm.acknowledge("al", T0 + 20)
    status = alarm.status
    assert status.state is AlarmState.ACKNOWLEDGED and status.since == T0 + 20
    assert (status.activated_at, status.acked_at) == (T0 + 10, T0 + 20)
    alarm.shelve("al", "transmitter fouled", T0 + 3600, T0 + 30)
    status = alarm.status
    assert (status.activated_at, status.acked_at, status.shelved_at) == (T0 + 10, T0 + 20, T0 + 30)
    assert status.since == T0 + 30  # the state's change: not the alarm's time
    alarm.unshelve("al", T0 + 40)
    status = alarm.status
    assert status.shelved_at is None and status.activated_at == T0 + 10


def test_a_returned_alarm_keeps_its_activation_time_a_new_one_gets_its_own():
    alarm = _alarm()
    _feed(alarm, 85.0, T0 + 10)
    _feed(alarm, 50.0, T0 + 15)  # back to normal before anyone acknowledged
    status = alarm.status
    assert status.state is AlarmState.RETURNED_UNACKNOWLEDGED
    assert status.active_since is None  # clear: not standing (KPIs)
    assert status.activated_at == T0 + 10  # but the operator still sees when it came
    alarm.acknowledge("al", T0 + 20)
    _feed(alarm, 90.0, T0 + 60)
    status = alarm.status
    assert status.state is AlarmState.UNACKNOWLEDGED
    assert (status.activated_at, status.acked_at) == (T0 + 60, None)  # a new occurrence


def test_an_escalation_waits_for_a_new_ack_but_keeps_the_activation_time():
    alarm = Alarm("plant/tank/level", AlarmLimits(hi=80.0, hihi=95.0), now=T0)
    _feed(alarm, 85.0, T0 + 10)
    alarm.acknowledge("al", T0 + 20)
    _feed(alarm, 97.0, T0 + 30)
    status = alarm.status
    assert status.state is AlarmState.UNACKNOWLEDGED and status.level is Level.HIHI
    assert (status.activated_at, status.acked_at) == (T0 + 10, None)


def test_a_recalled_activation_survives_a_restart_only_for_the_same_level():
    same = _alarm()
    same.recall(Level.HI, T0 - 3600)
    _feed(same, 85.0, T0 + 10)
    assert same.status.activated_at == T0 - 3600 == same.status.active_since
    other = Alarm("plant/tank/level", AlarmLimits(hi=80.0, hihi=95.0), now=T0)
    other.recall(Level.HI, T0 - 3600)
    _feed(other, 97.0, T0 + 10)  # worse than before the restart: a new alarm
    assert other.status.activated_at == T0 + 10
    cleared = _alarm()
    cleared.recall(Level.HI, T0 - 3600)
    _feed(cleared, 50.0, T0 + 10)  # normal after the restart: the recall is used up
    _feed(cleared, 85.0, T0 + 20)
    assert cleared.status.activated_at == T0 + 20


def test_the_times_cross_the_bus_and_an_older_peer_still_reads_a_status():
    alarm = _alarm()
    _feed(alarm, 85.0, T0 + 10)
    alarm.acknowledge("al", T0 + 20)
    data = alarm.status.to_dict()
    assert (data["activated_at"], data["acked_at"], data["shelved_at"]) == (T0 + 10, T0 + 20, None)
    assert AlarmStatus.from_dict(data) == alarm.status
    old = {k: v for k, v in data.items() if k not in ("activated_at", "acked_at", "shelved_at")}
    status = AlarmStatus.from_dict(old)  # an engine from before these fields
    assert status.activated_at is None and status.alarm_time == T0 + 10  # its active_since
