"""Commands: requests to write a tag, and their outcome.

A command goes ``pending`` -> ``confirmed`` (written, read back, and still held by the device
after its settle time) | ``overridden`` (written, but the device holds another value: its
logic overrode the command, e.g. a controller in AUTO writing its own output) |
``rejected`` (role or limits) | ``failed`` (device error) | ``timed_out``. Widgets send
:class:`Command`; the writer (a driver or the security service) answers with a
:class:`CommandResult` carrying the same ``id``. On the bus: ``cmd/<tag>`` carries
commands, ``result/<tag>`` results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from hmi.core.sample import Value

#: a write is watched for this many poll periods of its tag unless its tag or device says
SETTLE_PERIODS = 2.0
#: ... but for at most this long (s): a slow poll group must not keep the operator waiting
SETTLE_DEFAULT_MAX = 3.0
#: the longest settle a project may set (s): the result must come well before a station
#: gives up waiting (10 s by default)
SETTLE_MAX = 5.0


def settle_time(tag_settle: float | None, device_settle: float | None, period: float) -> float:
    """How long a write is watched after its read-back: the tag's ``settle``, else its
    device's, else :data:`SETTLE_PERIODS` poll periods, at most :data:`SETTLE_DEFAULT_MAX`."""
    if tag_settle is not None:
        return tag_settle
    if device_settle is not None:
        return device_settle
    return min(SETTLE_PERIODS * period, SETTLE_DEFAULT_MAX)


class CommandState(StrEnum):
    """Where a command is in its life."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    #: the device accepted the write but does not hold the value (read back, or while it
    #: settled, it read something else): the result's ``value`` is what the device holds
    OVERRIDDEN = "overridden"

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
    #: the device's value: read back after the write and its settle time (CONFIRMED), the
    #: value it holds instead (OVERRIDDEN), else the value the tag still has
    value: Value = None
    #: why it was rejected or failed, in words an operator understands
    message: str = ""
    time: float = 0.0
    extra: dict[str, Value] = field(default_factory=dict)
