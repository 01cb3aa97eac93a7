"""A node's snapshot requests, and the live batches it holds while they are answered.

A node asks the broker for the cached values of a topic prefix when it subscribes, after
every (re)connection and after a sequence gap. The answer comes on the DEALER, live batches
on the SUB, so either may come first: had a live batch that is newer than the snapshot
been delivered before it, the snapshot would put older values back, and they would stay
until the tag changes again. So live ``tag/`` batches of a prefix being asked for are held
until the answer's end (``$sys/snapshot``, see docs/bus-protocol.md) and delivered after
it, in order. Pure: no sockets; time is passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: seconds to hold live batches for a snapshot that does not come (then they are delivered)
SNAPSHOT_WAIT = 2.0


class Resync:
    """``request(prefix)`` sends a snapshot request; ``deliver(topic, payload)`` hands a
    batch to the subscribers."""

    def __init__(self, request: Callable[[str], None], deliver: Callable[[str, Any], None]) -> None:
        self._request = request
        self._deliver = deliver
        #: requests not answered yet: prefix -> [how many, deadline]
        self.asked: dict[str, list[Any]] = {}
        #: live batches held until the snapshot they may be newer than has come, in order
        self.held: list[tuple[str, Any]] = []

    def ask(self, prefix: str, now: float) -> None:
        """Ask for the cached values of ``prefix``."""
        asked = self.asked.get(prefix)
        if asked is None:
            self.asked[prefix] = [1, now + SNAPSHOT_WAIT]
        else:
            asked[0] += 1
            asked[1] = now + SNAPSHOT_WAIT
        self._request(prefix)

    def holds(self, topic: str) -> bool:
        """True when a live batch of ``topic`` must wait (check ``asked`` first: cheap)."""
        return any(topic.startswith(prefix) for prefix in self.asked)

    def hold(self, topic: str, payload: Any) -> None:
        """Keep a live batch until the snapshot has come."""
        self.held.append((topic, payload))

    def on_end(self, prefix: Any) -> None:
        """The answer to a request for ``prefix`` is complete."""
        asked = self.asked.get(prefix) if isinstance(prefix, str) else None
        if asked is not None:
            asked[0] -= 1
            if asked[0] <= 0:
                del self.asked[prefix]
                self._release()

    def expire(self, now: float) -> None:
        """Stop waiting for answers that are overdue (the broker went away, or is old)."""
        late = [prefix for prefix, (_, deadline) in self.asked.items() if deadline < now]
        for prefix in late:
            log.warning("no snapshot of %r in %.1f s: delivering live data", prefix, SNAPSHOT_WAIT)
            del self.asked[prefix]
        if late:
            self._release()

    def forget(self) -> None:
        """Stop waiting for any answer (the broker is lost): deliver what is held."""
        self.asked.clear()
        self._release()

    def _release(self) -> None:
        # Deliver, in order, what no pending request covers any more; a topic's held
        # batches all go before any new one, which is delivered (or held) after this.
        held, self.held = self.held, []
        for topic, payload in held:
            if self.asked and self.holds(topic):
                self.held.append((topic, payload))
            else:
                self._deliver(topic, payload)
