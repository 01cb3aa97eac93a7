"""The ISA-18.2 alarm state machine: pure, table-driven, time passed in.

- :mod:`~hmi.core.alarms.states`: the states, events and the one transition table;
- :mod:`~hmi.core.alarms.condition`: HI/HIHI/LO/LOLO with deadband, discrete alarms;
- :mod:`~hmi.core.alarms.machine`: :class:`Alarm`, one tag's alarm with delays and requests;
- :mod:`~hmi.core.alarms.records`: the status and transition records it emits;
- :mod:`~hmi.core.alarms.kpi`: alarm rate, chattering and standing alarms.
"""

from hmi.core.alarms.condition import Level, evaluate
from hmi.core.alarms.kpi import AlarmKpis, KpiTracker
from hmi.core.alarms.machine import Alarm, AlarmMemento
from hmi.core.alarms.records import AlarmStatus, AlarmTransition
from hmi.core.alarms.states import (
    TRANSITIONS,
    AlarmRequestError,
    AlarmState,
    Event,
    next_state,
)
from hmi.core.tag import BadQualityPolicy

__all__ = [
    "TRANSITIONS",
    "Alarm",
    "AlarmKpis",
    "AlarmMemento",
    "AlarmRequestError",
    "AlarmState",
    "AlarmStatus",
    "AlarmTransition",
    "BadQualityPolicy",
    "Event",
    "KpiTracker",
    "Level",
    "evaluate",
    "next_state",
]
