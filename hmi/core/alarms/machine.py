"""One alarm of one tag: condition, delays, quality, requests, and the life-cycle table.

:class:`Alarm` is pure like h11's ``Connection``: the caller feeds it samples and requests
with the time (``now``), calls :meth:`Alarm.tick` at :meth:`Alarm.next_deadline`, and
receives :class:`AlarmTransition` records to journal and publish. No clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hmi.core.alarms.condition import Level, evaluate
from hmi.core.alarms.records import AlarmStatus, AlarmTransition
from hmi.core.alarms.states import AlarmRequestError, AlarmState, Event, next_state
from hmi.core.quality import Severity
from hmi.core.sample import Sample, Value
from hmi.core.tag import AlarmLimits, BadQualityPolicy


@dataclass(frozen=True, slots=True)
class AlarmMemento:
    """Everything an :class:`Alarm` changes, as it was at :meth:`Alarm.save`."""

    status: AlarmStatus
    raw: Level
    pending: Level | None
    pending_since: float
    recalled: tuple[Level, float] | None


class Alarm:
    """The alarm of one tag. Every method returns the transitions it caused (maybe none)."""

    def __init__(
        self,
        tag: str,
        limits: AlarmLimits,
        bad_quality: BadQualityPolicy = BadQualityPolicy.HOLD,
        now: float = 0.0,
    ) -> None:
        self.tag = tag
        self.limits = limits
        self.bad_quality = bad_quality
        self._status = AlarmStatus(
            tag, priority=limits.priority, message=limits.message, since=now, time=now
        )
        #: the condition as the latest value shows it, before on/off delays
        self._raw = Level.NONE
        self._pending: Level | None = None
        self._pending_since = 0.0
        #: the level and activation time this alarm had before a restart (see recall)
        self._recalled: tuple[Level, float] | None = None

    # -- reading ---------------------------------------------------------------------------
    @property
    def status(self) -> AlarmStatus:
        """The current status (what the bus carries and an HMI draws)."""
        return self._status

    @property
    def state(self) -> AlarmState:
        """The current life-cycle state."""
        return self._status.state

    def next_deadline(self) -> float | None:
        """When :meth:`tick` has something to do (a delay or a shelve expiring), or None."""
        deadlines = []
        if self._pending is not None:
            deadlines.append(self._pending_since + self._delay(self._pending))
        if self._status.shelved_until is not None:
            deadlines.append(self._status.shelved_until)
        return min(deadlines, default=None)

    def save(self) -> AlarmMemento:
        """The alarm as it is now, for :meth:`restore` (a request whose record fails is
        undone: its state never changes without its journal row)."""
        return AlarmMemento(
            self._status, self._raw, self._pending, self._pending_since, self._recalled
        )

    def restore(self, memento: AlarmMemento) -> None:
        """Put the alarm back as it was at :meth:`save`."""
        self._status = memento.status
        self._raw = memento.raw
        self._pending = memento.pending
        self._pending_since = memento.pending_since
        self._recalled = memento.recalled

    # -- from the process ------------------------------------------------------------------
    def update(self, sample: Sample, now: float, shown: Value = None) -> list[AlarmTransition]:
        """Feed the tag's latest sample, received at ``now``.

        ``shown``, when not None, is the value the status reports instead of the sample's:
        an alarm judged on a flag can show why (a device's communication alarm is judged on
        "failed" and shows the device's last error).
        """
        value = sample.value if shown is None else shown
        out: list[AlarmTransition] = []
        bad = sample.quality.severity is Severity.BAD
        if bad != self._status.input_bad:
            self._status = replace(self._status, input_bad=bad)
            out.append(self._record(Event.QUALITY, Event.QUALITY, now, value=value))
        if bad:
            if self.bad_quality is BadQualityPolicy.ALARM:
                self._raw = Level.BAD
            elif self._recalled is not None and self._status.level is Level.NONE:
                # HOLD right after a restart: the condition held is the one before it (the
                # journal's), so an alarm standing then stays standing while its device is
                # silent, with its activation time; its on-delay was served then.
                self._raw = self._pending = self._recalled[0]
                self._pending_since = -math.inf
            else:
                # HOLD: a stale value cannot confirm nor clear anything; pending delays stop.
                self._raw = self._status.level
        else:
            current = Level.NONE if self._raw is Level.BAD else self._raw
            level = evaluate(self.limits, sample.value, current)
            if level is not None:  # None: not judgeable (wrong type, NaN); hold the condition
                self._raw = level
        self._status = replace(self._status, value=value)
        out.extend(self._settle(now))
        return out

    def tick(self, now: float) -> list[AlarmTransition]:
        """Let time pass: confirm conditions whose delay ran out, expire a shelve."""
        out = self._settle(now)
        until = self._status.shelved_until
        if until is not None and now >= until:
            self._status = replace(
                self._status, shelved=False, shelved_until=None, shelve_reason="", shelved_at=None
            )
            out.append(self._record(Event.SHELVE_EXPIRED, self._resume_event(), now))
        return out

    def set_suppressed(self, suppressed: bool, now: float) -> list[AlarmTransition]:
        """Suppression by design: the caller evaluates the condition (e.g. pump stopped)."""
        if suppressed == self._status.suppressed:
            return []
        self._status = replace(self._status, suppressed=suppressed)
        if suppressed:
            return [self._record(Event.SUPPRESS, Event.SUPPRESS, now)]
        return [self._record(Event.UNSUPPRESS, self._resume_event(), now)]

    def recall(self, level: Level, activated_at: float | None) -> None:
        """Before a restart this alarm was active at ``level`` since ``activated_at`` (the
        journal's last status): if the first values after the restart confirm the same
        level, that stays its activation time, so a standing alarm does not look new (nor
        its standing time start again). The first decision, either way, uses it up."""
        if level is Level.NONE or activated_at is None:
            self._recalled = None
        else:
            self._recalled = (level, activated_at)

    # -- from people -----------------------------------------------------------------------
    def acknowledge(
        self, user: str, now: float, comment: str = "", *, at: float | None = None
    ) -> list[AlarmTransition]:
        """An operator acknowledges; raises :class:`AlarmRequestError` if nothing to ack.

        ``at``: when it was acknowledged, if not ``now`` (an acknowledgement re-applied
        after a restart keeps the operator's time).
        """
        next_state(self.state, Event.ACKNOWLEDGE)  # refuse before changing anything
        self._status = replace(self._status, acked_at=now if at is None else at)
        return [self._record(Event.ACKNOWLEDGE, Event.ACKNOWLEDGE, now, user=user, comment=comment)]

    def shelve(
        self, user: str, reason: str, until: float, now: float, *, at: float | None = None
    ) -> list[AlarmTransition]:
        """Hide the alarm until ``until`` (absolute time); a reason is required (ISA-18.2).

        ``at``: when it was shelved, if not ``now`` (a shelving restored after a restart).
        """
        if not reason.strip():
            raise AlarmRequestError("shelving needs a reason")
        if until <= now:
            raise AlarmRequestError("shelving needs an expiry in the future")
        next_state(self.state, Event.SHELVE)  # refuse before changing anything
        self._status = replace(
            self._status,
            shelved=True,
            shelved_until=until,
            shelve_reason=reason,
            shelved_at=now if at is None else at,
        )
        return [self._record(Event.SHELVE, Event.SHELVE, now, user=user, comment=reason)]

    def unshelve(self, user: str, now: float, comment: str = "") -> list[AlarmTransition]:
        """Bring a shelved alarm back; it annunciates again if its condition holds."""
        if not self._status.shelved:
            raise AlarmRequestError("cannot unshelve an alarm that is not shelved")
        self._status = replace(
            self._status, shelved=False, shelved_until=None, shelve_reason="", shelved_at=None
        )
        return [self._record(Event.UNSHELVE, self._resume_event(), now, user=user, comment=comment)]

    def remove_from_service(self, user: str, reason: str, now: float) -> list[AlarmTransition]:
        """Take the alarm out of service (maintenance); a reason is required."""
        if not reason.strip():
            raise AlarmRequestError("taking an alarm out of service needs a reason")
        next_state(self.state, Event.REMOVE_FROM_SERVICE)
        self._status = replace(self._status, out_of_service=True)
        return [
            self._record(
                Event.REMOVE_FROM_SERVICE, Event.REMOVE_FROM_SERVICE, now, user=user, comment=reason
            )
        ]

    def return_to_service(self, user: str, now: float, comment: str = "") -> list[AlarmTransition]:
        """Put an out-of-service alarm back in service."""
        if not self._status.out_of_service:
            raise AlarmRequestError("cannot return to service an alarm that is in service")
        self._status = replace(self._status, out_of_service=False)
        return [
            self._record(
                Event.RETURN_TO_SERVICE, self._resume_event(), now, user=user, comment=comment
            )
        ]

    # -- inside ----------------------------------------------------------------------------
    def _settle(self, now: float) -> list[AlarmTransition]:
        """Move the confirmed level towards the raw one once its delay has passed."""
        confirmed = self._status.level
        raw = self._raw
        if raw is confirmed:
            self._pending = None
            self._recalled = None  # decided: nothing to confirm (a recall is not for later)
            return []
        if self._pending is not raw:
            # Staying abnormal while the level moves (HI -> HIHI during an on-delay) keeps
            # the clock running: the condition has been continuously abnormal.
            keep = self._pending is not None and (self._pending is Level.NONE) == (
                raw is Level.NONE
            )
            self._pending = raw
            if not keep:
                self._pending_since = now
        if now - self._pending_since < self._delay(raw):
            return []
        self._pending = None
        event = _level_event(confirmed, raw)
        active_since = self._status.active_since
        activated_at = self._status.activated_at
        if raw is Level.NONE:
            active_since = None  # activated_at stays: a returned alarm keeps its time
        elif active_since is None:
            recalled = self._recalled
            active_since = recalled[1] if recalled is not None and recalled[0] is raw else now
            activated_at = active_since
        self._recalled = None
        self._status = replace(
            self._status, level=raw, active_since=active_since, activated_at=activated_at
        )
        return [self._record(event, event, now)]

    def _delay(self, target: Level) -> float:
        confirmed = self._status.level
        if target is Level.NONE or (
            confirmed is not Level.NONE and _level_event(confirmed, target) is Event.DEESCALATE
        ):
            return self.limits.off_delay
        return self.limits.on_delay

    def _resume_event(self) -> Event:
        """Which state to go back to after an overlay ends, from what still holds."""
        status = self._status
        if status.out_of_service:
            return Event.RESUME_OUT_OF_SERVICE
        if status.suppressed:
            return Event.RESUME_SUPPRESSED
        if status.shelved:
            return Event.RESUME_SHELVED
        return Event.RESUME_ACTIVE if status.active else Event.RESUME_NORMAL

    def _record(
        self,
        cause: Event,
        event: Event,
        now: float,
        *,
        user: str = "",
        comment: str = "",
        value: Value | None = None,
    ) -> AlarmTransition:
        """Apply ``event`` through the table and describe it as caused by ``cause``."""
        previous = self._status.state
        target = next_state(previous, event) or previous
        changes: dict[str, object] = {"state": target, "time": now}
        if target is not previous:
            changes["since"] = now
        if target is AlarmState.UNACKNOWLEDGED:
            changes["acked_at"] = None  # annunciated (again): this occurrence waits
        if user:
            changes["user"] = user
        if value is not None:
            changes["value"] = value
        self._status = replace(self._status, **changes)  # type: ignore[arg-type]
        return AlarmTransition(cause, previous, self._status, user, comment)


def _level_event(old: Level, new: Level) -> Event:
    if old is Level.NONE:
        return Event.ACTIVATE
    if new is Level.NONE:
        return Event.CLEAR
    same_side = (old in (Level.HI, Level.HIHI)) == (new in (Level.HI, Level.HIHI))
    analog = old in _ANALOG and new in _ANALOG
    if analog and same_side and new.severity < old.severity:
        return Event.DEESCALATE
    return Event.ESCALATE


_ANALOG = (Level.LO, Level.LOLO, Level.HI, Level.HIHI)
