"""The ISA-18.2 alarm states, the events that move them, and the one transition table.

The table is the whole life cycle: read it top to bottom to know what an alarm does.
Everything else (limits, delays, shelve expiry, suppression inputs) only decides *which
event* happens; :func:`next_state` decides what it does. A pair missing from the table is
either ignored (process events: the condition is still tracked, the state does not move)
or refused (operator requests: :class:`AlarmRequestError`).
"""

from __future__ import annotations

from enum import StrEnum


class AlarmState(StrEnum):
    """Where an alarm is in its life (ISA-18.2, figure 5, plus the three overlay states)."""

    NORMAL = "normal"
    #: active, not yet acknowledged: the operator must act
    UNACKNOWLEDGED = "unacknowledged"
    #: active and acknowledged
    ACKNOWLEDGED = "acknowledged"
    #: the condition cleared before anyone acknowledged it
    RETURNED_UNACKNOWLEDGED = "returned_unacknowledged"
    #: an operator hid it for a while (expiry and reason recorded)
    SHELVED = "shelved"
    #: hidden by design while a plant condition holds (e.g. the pump is stopped)
    SUPPRESSED = "suppressed"
    #: removed from service by an engineer (maintenance)
    OUT_OF_SERVICE = "out_of_service"

    @property
    def annunciated(self) -> bool:
        """True for the states an operator sees in the alarm list and the banner."""
        return self in _ANNUNCIATED

    @property
    def needs_ack(self) -> bool:
        """True while an acknowledgement is outstanding."""
        return self in (AlarmState.UNACKNOWLEDGED, AlarmState.RETURNED_UNACKNOWLEDGED)


class Event(StrEnum):
    """What happened to an alarm; the ``event`` field of every journal row."""

    # -- from the process (after deadband and delays) --
    ACTIVATE = "activate"
    #: a more severe level while active (HI -> HIHI): annunciate again
    ESCALATE = "escalate"
    #: a less severe level while active (HIHI -> HI): no new annunciation
    DEESCALATE = "deescalate"
    CLEAR = "clear"
    #: the input's quality went BAD or came back (see BadQualityPolicy)
    QUALITY = "quality"
    # -- from operators and engineers (requests carrying a user) --
    ACKNOWLEDGE = "acknowledge"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    REMOVE_FROM_SERVICE = "remove_from_service"
    RETURN_TO_SERVICE = "return_to_service"
    # -- from the system --
    SHELVE_EXPIRED = "shelve_expired"
    SUPPRESS = "suppress"
    UNSUPPRESS = "unsuppress"
    # -- leaving an overlay state: chosen by the machine from what still holds --
    RESUME_OUT_OF_SERVICE = "resume_out_of_service"
    RESUME_SUPPRESSED = "resume_suppressed"
    RESUME_SHELVED = "resume_shelved"
    #: back to the life cycle with the condition active: annunciate (ISA-18.2)
    RESUME_ACTIVE = "resume_active"
    RESUME_NORMAL = "resume_normal"


_S = AlarmState
_E = Event
_ANNUNCIATED = frozenset({_S.UNACKNOWLEDGED, _S.ACKNOWLEDGED, _S.RETURNED_UNACKNOWLEDGED})
_LIFE_CYCLE = (_S.NORMAL, *_ANNUNCIATED)
_OVERLAYS = (_S.SHELVED, _S.SUPPRESSED, _S.OUT_OF_SERVICE)
_RESUMES = {
    _E.RESUME_OUT_OF_SERVICE: _S.OUT_OF_SERVICE,
    _E.RESUME_SUPPRESSED: _S.SUPPRESSED,
    _E.RESUME_SHELVED: _S.SHELVED,
    _E.RESUME_ACTIVE: _S.UNACKNOWLEDGED,
    _E.RESUME_NORMAL: _S.NORMAL,
}

#: (state, event) -> next state. The single source of truth of the alarm life cycle.
TRANSITIONS: dict[tuple[AlarmState, Event], AlarmState] = {
    # The life cycle proper.
    (_S.NORMAL, _E.ACTIVATE): _S.UNACKNOWLEDGED,
    (_S.UNACKNOWLEDGED, _E.ESCALATE): _S.UNACKNOWLEDGED,
    (_S.UNACKNOWLEDGED, _E.DEESCALATE): _S.UNACKNOWLEDGED,
    (_S.UNACKNOWLEDGED, _E.ACKNOWLEDGE): _S.ACKNOWLEDGED,
    (_S.UNACKNOWLEDGED, _E.CLEAR): _S.RETURNED_UNACKNOWLEDGED,
    (_S.ACKNOWLEDGED, _E.ESCALATE): _S.UNACKNOWLEDGED,
    (_S.ACKNOWLEDGED, _E.DEESCALATE): _S.ACKNOWLEDGED,
    (_S.ACKNOWLEDGED, _E.CLEAR): _S.NORMAL,
    (_S.RETURNED_UNACKNOWLEDGED, _E.ACKNOWLEDGE): _S.NORMAL,
    (_S.RETURNED_UNACKNOWLEDGED, _E.ACTIVATE): _S.UNACKNOWLEDGED,
    # Quality changes never move the life cycle by themselves (they are journalled).
    **{(s, _E.QUALITY): s for s in (*_LIFE_CYCLE, *_OVERLAYS)},
    # Shelving: by an operator, from the life cycle only (not over suppression or OOS).
    **{(s, _E.SHELVE): _S.SHELVED for s in _LIFE_CYCLE},
    (_S.SHELVED, _E.SHELVE): _S.SHELVED,  # re-shelve: new expiry / reason
    # Suppression by design wins over shelving; out of service wins over both.
    **{(s, _E.SUPPRESS): _S.SUPPRESSED for s in (*_LIFE_CYCLE, _S.SHELVED)},
    **{(s, _E.REMOVE_FROM_SERVICE): _S.OUT_OF_SERVICE for s in (*_LIFE_CYCLE, *_OVERLAYS[:2])},
    # Leaving an overlay: the machine picks the resume event from what still holds.
    **{(_S.SHELVED, e): t for e, t in _RESUMES.items() if t is not _S.SHELVED},
    **{(_S.SUPPRESSED, e): t for e, t in _RESUMES.items() if t is not _S.SUPPRESSED},
    **{(_S.OUT_OF_SERVICE, e): t for e, t in _RESUMES.items() if t is not _S.OUT_OF_SERVICE},
}

#: requests from people checked against the table: a missing entry is an error, not a no-op.
#: (UNSHELVE and RETURN_TO_SERVICE are checked against the alarm's flags, then resume.)
REQUESTS = frozenset({_E.ACKNOWLEDGE, _E.SHELVE, _E.REMOVE_FROM_SERVICE})


class AlarmRequestError(ValueError):
    """A request that the alarm's state does not allow (e.g. acknowledge a normal alarm)."""


def next_state(state: AlarmState, event: Event) -> AlarmState | None:
    """The state after ``event`` in ``state``, or None when the table ignores it.

    Raises :class:`AlarmRequestError` for a request (acknowledge, shelve, ...) that the
    table does not allow in ``state``.
    """
    target = TRANSITIONS.get((state, event))
    if target is None and event in REQUESTS:
        raise AlarmRequestError(
            f"cannot {event.value.replace('_', ' ')} an alarm in state "
            f"{state.value.replace('_', ' ')}"
        )
    return target
