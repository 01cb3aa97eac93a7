"""Commands: requests to write a tag, and their outcome.

A command goes ``pending`` -> ``confirmed`` (written and read back) | ``rejected`` (role or
limits) | ``failed`` (device error) | ``timed_out``. Widgets send :class:`Command`; the
writer (a driver or the security service) answers with a :class:`CommandResult` carrying
the same ``id``. On the bus: ``cmd/<tag>`` carries commands, ``result/<tag>`` results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from hmi.core.sample import Value


class CommandState(StrEnum):
    """Where a command is in its life."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    FAILED = "failed"
    TIMED_OUT = "timed_out"

    @property
    def final(self) -> bool:
        """True for every state but PENDING."""
        return self is not CommandState.PENDING


@dataclass(frozen=True, slots=True)
class Command:
    """A request to write ``value`` to ``tag``, with who asked, from where, and why."""

    id: str
    tag: str
    value: Value
    user: str = ""
    roles: frozenset[str] = frozenset()
    node: str = ""
    screen: str = ""
    #: the value the operator saw when deciding (for the audit trail)
    old_value: Value = None
    #: when the command was issued (POSIX seconds; passed in, never read here)
    time: float = 0.0
    #: proof of identity issued at login, checked by the receiver across processes
    token: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one :class:`Command` (matched by ``id``)."""

    id: str
    tag: str
    state: CommandState
    #: the value read back after the write (CONFIRMED), else the value the tag still has
    value: Value = None
    #: why it was rejected or failed, in words an operator understands
    message: str = ""
    time: float = 0.0
    extra: dict[str, Value] = field(default_factory=dict)
