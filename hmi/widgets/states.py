"""Parsing the ``states`` property of discrete widgets: ``value=Text[:#colour]`` pairs.

Example: ``0=Stopped;1=Running;2=Tripped:#d40000``. A state without a colour is normal
(drawn grey); a colour marks it abnormal. No expressions: a screen file never runs code.
"""

from __future__ import annotations

from dataclasses import dataclass

from hmi.core.sample import Value


@dataclass(frozen=True, slots=True)
class State:
    """One discrete state: its text and, when abnormal, its colour."""

    text: str
    colour: str = ""


def parse_states(spec: str) -> dict[str, State]:
    """``"0=Stopped;1=Running:#d40000"`` -> ``{"0": State("Stopped"), "1": ...}``."""
    states: dict[str, State] = {}
    for part in spec.split(";"):
        key, sep, rest = part.partition("=")
        if not sep or not key.strip():
            continue
        text, _, colour = rest.partition(":")
        states[key.strip().lower()] = State(text.strip(), colour.strip())
    return states


def state_key(value: Value) -> str:
    """The key a value is looked up by: ``True``/``1`` -> ``"1"``, ``2.0`` -> ``"2"``."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip().lower()
