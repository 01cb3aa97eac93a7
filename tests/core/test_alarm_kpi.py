"""Alarm KPIs: rate per 10 minutes, chattering, standing alarms."""

from __future__ import annotations

from hmi.core.alarms import Alarm, AlarmTransition, KpiTracker
from hmi.core.sample import Sample
from hmi.core.tag import AlarmLimits


def _flip(alarm: Alarm, start: float, times: int, period: float) -> list[AlarmTransition]:
    out: list[AlarmTransition] = []
    for i in range(times):
        t = start + i * period
        out += alarm.update(Sample(True), t)
        out += alarm.update(Sample(False), t + period / 2)
    return out


def test_rate_per_10_minutes_counts_annunciations_only() -> None:
    kpis = KpiTracker(start=0.0)
    alarm = Alarm("a/b/trip", AlarmLimits(state=True))
    kpis.feed(_flip(alarm, 0.0, 5, 100.0))  # 5 activations in 500 s, clears too
    snap = kpis.snapshot(550.0)
    assert snap.alarms_last_10min == 5
    assert snap.peak_per_10min == 5
    assert kpis.snapshot(650.0).alarms_last_10min == 4  # the first left the window
    assert kpis.snapshot(1200.0).average_per_10min == 2.5  # 5 over two periods


def test_chattering_is_three_activations_within_a_minute() -> None:
    kpis = KpiTracker(start=0.0)
    chatty = Alarm("a/b/chatty", AlarmLimits(state=True))
    calm = Alarm("a/b/calm", AlarmLimits(state=True))
    kpis.feed(sorted(_flip(chatty, 0.0, 3, 10.0) + _flip(calm, 0.0, 3, 40.0), key=lambda t: t.time))
    assert kpis.snapshot(30.0).chattering == ("a/b/chatty",)
    assert kpis.snapshot(200.0).chattering == ()


def test_standing_alarms_are_active_longer_than_the_limit() -> None:
    kpis = KpiTracker(start=0.0, standing_after=3600.0)
    alarm = Alarm("a/b/level", AlarmLimits(hi=10.0))
    kpis.feed(alarm.update(Sample(20.0), 0.0))
    kpis.feed(alarm.acknowledge("op", 10.0))  # acknowledging does not end standing
    assert kpis.snapshot(3599.0).standing == ()
    assert kpis.snapshot(3600.0).standing == ("a/b/level",)
    kpis.feed(alarm.update(Sample(0.0), 3700.0))
    assert kpis.snapshot(3800.0).standing == ()


def test_flood_fraction_and_state_counts() -> None:
    kpis = KpiTracker(start=0.0, flood_threshold=10)
    alarms = [Alarm(f"a/b/t{i}", AlarmLimits(state=True)) for i in range(12)]
    for i, alarm in enumerate(alarms):
        kpis.feed(alarm.update(Sample(True), float(i)))
    kpis.feed(alarms[0].shelve("op", "nuisance", 5000.0, 20.0))
    kpis.feed(alarms[1].set_suppressed(True, 21.0))
    kpis.feed(alarms[2].remove_from_service("eng", "maintenance", 22.0))
    snap = kpis.snapshot(1199.0)  # two periods, one of them a flood
    assert snap.flood_fraction == 0.5
    assert (snap.annunciated, snap.shelved, snap.suppressed, snap.out_of_service) == (9, 1, 1, 1)
    assert snap.to_dict()["annunciated"] == 9
