"""What an alarm reports: its status, and the transitions that the journal and the bus carry.

Both are frozen dataclasses with ``to_dict``/``from_dict`` in plain types (str, float, int,
bool, None) so they cross the bus as MessagePack and land in SQLite without a pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hmi.core.alarms.condition import Level
from hmi.core.alarms.states import AlarmState, Event
from hmi.core.sample import Value


@dataclass(frozen=True, slots=True)
class AlarmStatus:
    """Everything an HMI needs to draw one alarm, as of ``time``."""

    tag: str
    state: AlarmState = AlarmState.NORMAL
    #: the confirmed condition (after delays); NONE when the condition is clear
    level: Level = Level.NONE
    value: Value = None
    #: the input's quality is BAD: the condition is held (or alarmed, per policy)
    input_bad: bool = False
    #: 1 (most urgent) .. 4
    priority: int = 3
    message: str = ""
    #: when the state last changed (an acknowledge or a shelve changes it too: not the
    #: alarm's time for an operator; that is ``activated_at``)
    since: float = 0.0
    #: when the condition became active, None while clear (for standing-alarm KPIs)
    active_since: float | None = None
    #: when this occurrence became active: kept once the condition clears (a returned,
    #: unacknowledged alarm still shows when it came), replaced by the next activation;
    #: None for an alarm never active. What the banner and the summary show as its time.
    activated_at: float | None = None
    #: when this occurrence was acknowledged; None while it waits for an acknowledgement
    acked_at: float | None = None
    #: when it was shelved (the last shelve); None while not shelved
    shelved_at: float | None = None
    shelved: bool = False
    shelved_until: float | None = None
    shelve_reason: str = ""
    suppressed: bool = False
    out_of_service: bool = False
    #: the last person who acted on it (acknowledge, shelve, ...), and when
    user: str = ""
    time: float = 0.0

    @property
    def active(self) -> bool:
        """True while the condition holds (whatever the state)."""
        return self.level is not Level.NONE

    @property
    def alarm_time(self) -> float | None:
        """The alarm's time for an operator: when it became active (``activated_at``;
        from an engine that does not send it, ``active_since``); None if never active."""
        return self.activated_at if self.activated_at is not None else self.active_since

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, for MessagePack and SQLite."""
        return {
            "tag": self.tag,
            "state": self.state.value,
            "level": self.level.name,
            "value": self.value,
            "input_bad": self.input_bad,
            "priority": self.priority,
            "message": self.message,
            "since": self.since,
            "active_since": self.active_since,
            "activated_at": self.activated_at,
            "acked_at": self.acked_at,
            "shelved_at": self.shelved_at,
            "shelved": self.shelved,
            "shelved_until": self.shelved_until,
            "shelve_reason": self.shelve_reason,
            "suppressed": self.suppressed,
            "out_of_service": self.out_of_service,
            "user": self.user,
            "time": self.time,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlarmStatus:
        """The inverse of :meth:`to_dict` (unknown keys are ignored, for newer peers)."""
        return cls(
            tag=str(data["tag"]),
            state=AlarmState(data.get("state", "normal")),
            level=Level[str(data.get("level", "NONE"))],
            value=data.get("value"),
            input_bad=bool(data.get("input_bad", False)),
            priority=int(data.get("priority", 3)),
            message=str(data.get("message", "")),
            since=float(data.get("since", 0.0)),
            active_since=_opt_float(data.get("active_since")),
            activated_at=_opt_float(data.get("activated_at")),
            acked_at=_opt_float(data.get("acked_at")),
            shelved_at=_opt_float(data.get("shelved_at")),
            shelved=bool(data.get("shelved", False)),
            shelved_until=_opt_float(data.get("shelved_until")),
            shelve_reason=str(data.get("shelve_reason", "")),
            suppressed=bool(data.get("suppressed", False)),
            out_of_service=bool(data.get("out_of_service", False)),
            user=str(data.get("user", "")),
            time=float(data.get("time", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class AlarmTransition:
    """One journal row: ``event`` moved the alarm from ``previous`` to ``status.state``.

    Process events that the state ignores (e.g. a condition change while shelved) are still
    transitions with ``previous == status.state``: the journal misses nothing.
    """

    event: Event
    previous: AlarmState
    status: AlarmStatus
    user: str = ""
    #: the operator's reason or comment (shelve, out of service, acknowledge)
    comment: str = ""

    @property
    def tag(self) -> str:
        """The alarm's tag."""
        return self.status.tag

    @property
    def time(self) -> float:
        """When it happened (POSIX seconds, the engine's clock)."""
        return self.status.time

    @property
    def state(self) -> AlarmState:
        """The state after the transition."""
        return self.status.state

    @property
    def annunciates(self) -> bool:
        """True when this transition asks for an operator's attention (an alarm 'occurs')."""
        return self.status.state is AlarmState.UNACKNOWLEDGED and (
            self.previous is not AlarmState.UNACKNOWLEDGED or self.event is Event.ESCALATE
        )

    def to_dict(self) -> dict[str, Any]:
        """The status' fields plus ``event``, ``previous``, ``comment`` (flat, plain types)."""
        return self.status.to_dict() | {
            "event": self.event.value,
            "previous": self.previous.value,
            "comment": self.comment,
            "actor": self.user,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlarmTransition:
        """The inverse of :meth:`to_dict`."""
        return cls(
            event=Event(data["event"]),
            previous=AlarmState(data["previous"]),
            status=AlarmStatus.from_dict(data),
            user=str(data.get("actor", "")),
            comment=str(data.get("comment", "")),
        )


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
