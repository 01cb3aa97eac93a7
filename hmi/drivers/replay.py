"""Replay protection for commands: each command id is carried out once, and only while
its time is recent.

Any node subscribed to ``cmd/`` sees every command, session token included, so a command
seen once could be published again (from the same node, where the session check cannot
tell the copy from the original). The driver accepts a command only when its ``time`` is
within ``max_age`` seconds of the driver's clock, either way, and only for an id it has
not taken before. An id needs remembering only as long as a command of that time could
still pass the time check (``time + max_age``), so memory is bounded by the commands of
one window; a hard ``capacity`` bounds it against floods, refusing (never forgetting
early) when full.
"""

from __future__ import annotations

import math

#: how far a command's time may be from the driver's clock, seconds, either way
MAX_AGE = 30.0
#: the most command ids remembered at once (a window of 30 s holds ~3,300 per second)
CAPACITY = 100_000


class ReplayGuard:
    """Admits each command id once, and only with a recent time (see the module)."""

    def __init__(self, max_age: float = MAX_AGE, capacity: int = CAPACITY) -> None:
        if max_age <= 0 or capacity <= 0:
            raise ValueError("max_age and capacity must be positive")
        self.max_age = max_age
        self.capacity = capacity
        #: id -> when it may be forgotten (its time + max_age)
        self._seen: dict[str, float] = {}
        self._next_sweep = -math.inf

    def __len__(self) -> int:
        return len(self._seen)

    def admit(self, command_id: str, command_time: float, now: float) -> str | None:
        """Take ``command_id``; None when admitted, else why it is refused."""
        if not command_id:
            return "command carries no id"
        offset = now - command_time
        if not -self.max_age <= offset <= self.max_age:  # also NaN and a missing time (0)
            return (
                f"command time is {_offset(offset)} (at most {self.max_age:g} s either "
                "way): stale or replayed"
            )
        if command_id in self._seen:
            return f"command {command_id} was received before: replayed"
        if now >= self._next_sweep or len(self._seen) >= self.capacity:
            self._forget(now)
        if len(self._seen) >= self.capacity:
            return "too many commands within the replay window: try again"
        self._seen[command_id] = command_time + self.max_age
        return None

    def release(self, command_id: str) -> None:
        """Forget ``command_id`` (its session was invalid: it can never be accepted, and
        commands with forged tokens must not fill the memory of real ones)."""
        self._seen.pop(command_id, None)

    def _forget(self, now: float) -> None:
        """Drop the ids whose commands would now fail the time check anyway."""
        self._seen = {key: until for key, until in self._seen.items() if until >= now}
        self._next_sweep = now + self.max_age


def _offset(offset: float) -> str:
    """Where a command's time is against the driver's clock, in words."""
    if math.isnan(offset):
        return "not a number"
    side = "behind" if offset > 0 else "ahead of"
    return f"{abs(offset):.0f} s {side} the driver's clock"
