"""Limits, deadband and discrete conditions of the alarm state machine."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from hmi.core.alarms import Level, evaluate
from hmi.core.tag import AlarmLimits

LIMITS = AlarmLimits(lolo=0.0, lo=10.0, hi=90.0, hihi=100.0, deadband=2.0)


def test_levels_at_and_beyond_each_limit() -> None:
    assert evaluate(LIMITS, 50.0) is Level.NONE
    assert evaluate(LIMITS, 90.0) is Level.HI
    assert evaluate(LIMITS, 99.9) is Level.HI
    assert evaluate(LIMITS, 100.0) is Level.HIHI
    assert evaluate(LIMITS, 10.0) is Level.LO
    assert evaluate(LIMITS, -5) is Level.LOLO


def test_deadband_holds_until_back_inside_by_the_deadband() -> None:
    assert evaluate(LIMITS, 89.0, Level.NONE) is Level.NONE
    assert evaluate(LIMITS, 89.0, Level.HI) is Level.HI
    assert evaluate(LIMITS, 88.0, Level.HI) is Level.NONE
    assert evaluate(LIMITS, 99.0, Level.HIHI) is Level.HIHI
    assert evaluate(LIMITS, 97.5, Level.HIHI) is Level.HI
    # HIHI held within its deadband also holds HI: no clear on the way down.
    assert evaluate(LIMITS, 89.0, Level.HIHI) is Level.HI
    assert evaluate(LIMITS, 11.0, Level.LO) is Level.LO
    assert evaluate(LIMITS, 12.0, Level.LO) is Level.NONE
    # The deadband of one side never holds the other.
    assert evaluate(LIMITS, 89.0, Level.LO) is Level.NONE


def test_zero_deadband_alarm_exactly_at_the_limit() -> None:
    limits = AlarmLimits(hi=5.0)
    assert evaluate(limits, 5.0, Level.HI) is Level.HI
    assert evaluate(limits, 4.999, Level.HI) is Level.NONE


def test_discrete_alarm_is_value_equals_state() -> None:
    limits = AlarmLimits(state=True)
    assert evaluate(limits, True) is Level.STATE
    assert evaluate(limits, 1) is Level.STATE  # a coil read as an int
    assert evaluate(limits, False) is Level.NONE
    assert evaluate(AlarmLimits(state=3), 3) is Level.STATE
    assert evaluate(AlarmLimits(state=3), 2) is Level.NONE
    assert evaluate(AlarmLimits(state="FAULT"), "FAULT") is Level.STATE


def test_values_that_cannot_be_judged_return_none() -> None:
    assert evaluate(LIMITS, "high") is None
    assert evaluate(LIMITS, None) is None
    assert evaluate(LIMITS, True) is None
    assert evaluate(LIMITS, math.nan) is None


@given(st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=1, max_size=200))
def test_noise_smaller_than_the_deadband_never_chatters(noise: list[float]) -> None:
    """A value wobbling around the HI limit by less than the deadband changes level once."""
    limits = AlarmLimits(hi=50.0, deadband=4.0)
    level = Level.NONE
    changes = 0
    for n in noise:
        new = evaluate(limits, 50.0 + n, level)
        assert new is not None
        changes += new is not level
        level = new
    assert changes <= 1


@given(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(list(Level)[:5]))
def test_level_is_never_less_than_without_history(x: float, current: Level) -> None:
    """History (the deadband) may only hold a level, never lower what the value shows."""
    fresh = evaluate(LIMITS, x)
    held = evaluate(LIMITS, x, current)
    assert fresh is not None and held is not None
    if fresh is not Level.NONE:
        assert held.severity >= fresh.severity
