"""Alarm conditions: which limit a value violates, with deadband, for analog and discrete.

An analog alarm is active at or beyond its limit and clears only once the value is back
inside by more than the deadband, so a value hovering at the limit does not chatter.
"""

from __future__ import annotations

import math
from enum import IntEnum

from hmi.core.sample import Value
from hmi.core.tag import AlarmLimits


class Level(IntEnum):
    """The condition of an alarm; a higher value is more severe on its side."""

    NONE = 0
    LO = 1
    HI = 2
    LOLO = 3
    HIHI = 4
    #: a discrete alarm (value == state)
    STATE = 5
    #: the input is BAD and the policy says to alarm on it
    BAD = 6

    @property
    def severity(self) -> int:
        """0 none, 1 the first limit, 2 the second; discrete and BAD count as 2."""
        return _SEVERITY[self]

    @property
    def label(self) -> str:
        """Operator text: ``HI``, ``LOLO``, ``ALARM``, ``BAD``, or empty."""
        return _LABELS[self]


_SEVERITY = {
    Level.NONE: 0,
    Level.LO: 1,
    Level.HI: 1,
    Level.LOLO: 2,
    Level.HIHI: 2,
    Level.STATE: 2,
    Level.BAD: 2,
}
_LABELS = {
    Level.NONE: "",
    Level.LO: "LO",
    Level.HI: "HI",
    Level.LOLO: "LOLO",
    Level.HIHI: "HIHI",
    Level.STATE: "ALARM",
    Level.BAD: "BAD",
}


def is_discrete(limits: AlarmLimits) -> bool:
    """True when ``limits`` define a discrete alarm (``state``) rather than analog limits."""
    return limits.state is not None


def evaluate(limits: AlarmLimits, value: Value, current: Level = Level.NONE) -> Level | None:
    """The level ``value`` is at, given the ``current`` level (for the deadband).

    Returns None when ``value`` cannot be judged (e.g. a string for an analog alarm): the
    caller keeps the alarm as it is rather than clearing it.
    """
    if is_discrete(limits):
        return Level.STATE if _equal(value, limits.state) else Level.NONE
    if isinstance(value, bool) or not isinstance(value, int | float):
        # bool is an int; an analog limit on a bool is a configuration mistake, not a value.
        return None
    x = float(value)
    if math.isnan(x):  # neither in nor out of range
        return None
    db = limits.deadband
    high = _side(x, current, ((limits.hihi, Level.HIHI), (limits.hi, Level.HI)), db, +1)
    if high is not Level.NONE:
        return high
    return _side(x, current, ((limits.lolo, Level.LOLO), (limits.lo, Level.LO)), db, -1)


def _side(
    x: float,
    current: Level,
    limits: tuple[tuple[float | None, Level], ...],
    deadband: float,
    sign: int,
) -> Level:
    """The most severe level of one side (high: ``sign`` +1, low: -1) that ``x`` holds."""
    for limit, level in limits:  # most severe first
        if limit is None:
            continue
        inside_by = sign * (limit - x)  # > 0: on the normal side of the limit, by that much
        if inside_by <= 0:
            return level
        # Staying in a level (or in a more severe one of the same side) only needs the
        # value within the deadband: it clears once it is back inside by the deadband.
        held = current in _HIGH if sign > 0 else current in _LOW
        if held and current.severity >= level.severity and inside_by < deadband:
            return level
    return Level.NONE


_HIGH = (Level.HI, Level.HIHI)
_LOW = (Level.LO, Level.LOLO)


def _equal(value: Value, state: Value) -> bool:
    # Compare bool states with truthiness so a coil read as 0/1 matches ``state: true``.
    if isinstance(state, bool) and isinstance(value, int | float):
        return bool(value) is state
    return value == state
