"""The transition table: the ISA-18.2 life cycle, read as data."""

from __future__ import annotations

import pytest

from hmi.core.alarms import TRANSITIONS, AlarmRequestError, AlarmState, Event, next_state

S, E = AlarmState, Event


@pytest.mark.parametrize(
    ("state", "event", "target"),
    [
        (S.NORMAL, E.ACTIVATE, S.UNACKNOWLEDGED),
        (S.UNACKNOWLEDGED, E.ACKNOWLEDGE, S.ACKNOWLEDGED),
        (S.UNACKNOWLEDGED, E.CLEAR, S.RETURNED_UNACKNOWLEDGED),
        (S.ACKNOWLEDGED, E.CLEAR, S.NORMAL),
        (S.RETURNED_UNACKNOWLEDGED, E.ACKNOWLEDGE, S.NORMAL),
        (S.RETURNED_UNACKNOWLEDGED, E.ACTIVATE, S.UNACKNOWLEDGED),
        (S.ACKNOWLEDGED, E.ESCALATE, S.UNACKNOWLEDGED),
        (S.ACKNOWLEDGED, E.DEESCALATE, S.ACKNOWLEDGED),
        (S.UNACKNOWLEDGED, E.SHELVE, S.SHELVED),
        (S.SHELVED, E.RESUME_ACTIVE, S.UNACKNOWLEDGED),
        (S.SHELVED, E.RESUME_NORMAL, S.NORMAL),
        (S.SHELVED, E.SUPPRESS, S.SUPPRESSED),
        (S.SUPPRESSED, E.RESUME_SHELVED, S.SHELVED),
        (S.SUPPRESSED, E.REMOVE_FROM_SERVICE, S.OUT_OF_SERVICE),
        (S.OUT_OF_SERVICE, E.RESUME_SUPPRESSED, S.SUPPRESSED),
        (S.OUT_OF_SERVICE, E.RESUME_NORMAL, S.NORMAL),
    ],
)
def test_life_cycle(state: AlarmState, event: Event, target: AlarmState) -> None:
    assert next_state(state, event) is target


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.NORMAL, E.ACKNOWLEDGE),
        (S.ACKNOWLEDGED, E.ACKNOWLEDGE),
        (S.SHELVED, E.ACKNOWLEDGE),
        (S.SUPPRESSED, E.SHELVE),
        (S.OUT_OF_SERVICE, E.SHELVE),
        (S.OUT_OF_SERVICE, E.REMOVE_FROM_SERVICE),
    ],
)
def test_requests_the_state_does_not_allow_are_refused(state: AlarmState, event: Event) -> None:
    with pytest.raises(AlarmRequestError, match="cannot"):
        next_state(state, event)


def test_process_events_in_overlays_are_ignored_not_refused() -> None:
    for overlay in (S.SHELVED, S.SUPPRESSED, S.OUT_OF_SERVICE):
        for event in (E.ACTIVATE, E.CLEAR, E.ESCALATE):
            assert next_state(overlay, event) is None
    assert next_state(S.OUT_OF_SERVICE, E.SUPPRESS) is None


def test_every_state_is_reachable_from_normal_and_can_get_back() -> None:
    def reach(start: AlarmState, edges: dict[AlarmState, set[AlarmState]]) -> set[AlarmState]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges.get(todo.pop(), set()) - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    forward: dict[AlarmState, set[AlarmState]] = {}
    backward: dict[AlarmState, set[AlarmState]] = {}
    for (state, _), target in TRANSITIONS.items():
        forward.setdefault(state, set()).add(target)
        backward.setdefault(target, set()).add(state)
    assert reach(S.NORMAL, forward) == set(AlarmState)
    assert reach(S.NORMAL, backward) == set(AlarmState)


def test_annunciated_and_needs_ack() -> None:
    assert {s for s in AlarmState if s.annunciated} == {
        S.UNACKNOWLEDGED,
        S.ACKNOWLEDGED,
        S.RETURNED_UNACKNOWLEDGED,
    }
    assert {s for s in AlarmState if s.needs_ack} == {S.UNACKNOWLEDGED, S.RETURNED_UNACKNOWLEDGED}
