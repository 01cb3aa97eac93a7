"""A node's snapshot requests, and the live batches it holds while they are answered.

A node asks the broker for the cached values of a topic prefix when it subscribes, after
every (re)connection and after a sequence gap. Two races, two remedies:

- *The subscription and the request take different sockets.* A subscription goes from
  the node's SUB to the broker's XPUB, the request over the DEALER to the broker's front,
  with no order between them. A request answered before the subscription is active at the
  XPUB misses, for good, what is published between the two (a static value is published
  once). So after subscribing, a node first sends a *probe*: it subscribes to a topic of
  its own, ``$probe/<node id>/<n>/``, and publishes on it, again until the probe comes
  back through the XPUB. ZeroMQ sends a SUB's subscriptions in order on its connection,
  so then every subscription made before the probe's is active, and only then the
  snapshot is asked for (the broker accounts for everything it forwarded before it
  answers). Subscriptions made while the SUB is not connected are sent when it connects,
  in an order ZeroMQ does not define: a probe started before the node has heard from the
  broker on its SUB is followed by a second one. A gap needs no probe: the message that
  showed it came through the subscription.
- *The answer and live batches take different sockets.* The answer comes on the DEALER,
  live batches on the SUB, so either may come first: had a live batch that is newer than
  the snapshot been delivered before it, the snapshot would put older values back, and
  they would stay until the tag changes again. So live ``tag/`` batches of a prefix being
  asked for are held from the subscription until the answer's end (``$sys/snapshot``, see
  docs/bus-protocol.md) and delivered after it, in order.

Pure: no sockets; time is passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: seconds to hold live batches for a snapshot that does not come (then they are delivered)
SNAPSHOT_WAIT = 2.0
#: seconds to wait for a probe; then the snapshot is asked for anyway (without the guarantee)
PROBE_WAIT = 1.0


@dataclass
class Probe:
    """A probe out: the prefixes it was sent for, and whether the SUB was connected then."""

    prefixes: list[str]
    attached: bool
    deadline: float


def could_be_tag(prefix: str) -> bool:
    """True when topics with ``prefix`` can be ``tag/`` topics (the broker caches those)."""
    return prefix.startswith("tag/") or "tag/".startswith(prefix) or prefix == "tag"


def _no_probe(n: int) -> None:
    return None


#: ``deliver(topic, payload, sender)``: hand a held batch to the subscribers, with the
#: node id it came from (see ``ZmqTransport.current_sender``; None: not known)
Deliver = Callable[[str, Any, "str | None"], None]


class Resync:
    """``request(prefix)`` sends a snapshot request; ``deliver(topic, payload, sender)``
    hands a batch to the subscribers; ``probe(n)`` subscribes to probe ``n`` and publishes
    it (again until it is back, or dropped by ``unprobe(n)``, which unsubscribes)."""

    def __init__(
        self,
        request: Callable[[str], None],
        deliver: Deliver,
        probe: Callable[[int], None] = _no_probe,
        unprobe: Callable[[int], None] = _no_probe,
    ) -> None:
        self._request = request
        self._deliver = deliver
        self._probe = probe
        self._unprobe = unprobe
        #: prefixes asked for and not answered yet: prefix -> [how many, deadline]
        self.asked: dict[str, list[Any]] = {}
        #: live batches held until the snapshot they may be newer than has come, in order,
        #: with their senders
        self.held: list[tuple[str, Any, str | None]] = []
        #: probes out, by number (numbers only grow)
        self.probes: dict[int, Probe] = {}
        self._next = 1
        #: probes that never came back (the snapshot was asked for without one)
        self.unanswered = 0

    # -- asking -----------------------------------------------------------------------------
    def join(self, prefixes: Iterable[str], now: float, attached: bool) -> None:
        """Ask for the cached values of newly subscribed ``prefixes`` once the broker has
        the subscriptions (a probe); ``attached``: the SUB has heard from the broker."""
        prefixes = list(prefixes)
        if not prefixes:
            return
        for prefix in prefixes:
            self._count(prefix, 0.0)
        self._send_probe(prefixes, now, attached)

    def ask(self, prefix: str, now: float) -> None:
        """Ask for the cached values of ``prefix`` at once (its subscription is active)."""
        self._count(prefix, now + SNAPSHOT_WAIT)
        self._request(prefix)

    def restart(self, prefixes: Iterable[str], now: float, attached: bool) -> None:
        """A (new) broker welcomed the node: what was asked of the old one will not come;
        ask the new one for every prefix."""
        self._drop_probes()
        self.asked.clear()
        self.join(prefixes, now, attached)
        self._release()

    def _count(self, prefix: str, deadline: float) -> None:
        asked = self.asked.get(prefix)
        if asked is None:
            self.asked[prefix] = [1, deadline]
        else:
            asked[0] += 1
            asked[1] = max(asked[1], deadline)

    def _send_probe(self, prefixes: list[str], now: float, attached: bool) -> None:
        for prefix in prefixes:  # held until the probe is back and the answer has come
            asked = self.asked.get(prefix)
            if asked is not None:
                asked[1] = max(asked[1], now + PROBE_WAIT + SNAPSHOT_WAIT)
        n = self._next
        self._next += 1
        self.probes[n] = Probe(prefixes, attached, now + PROBE_WAIT)
        self._probe(n)

    def _send_request(self, prefix: str, now: float) -> None:
        asked = self.asked.get(prefix)
        if asked is not None:
            asked[1] = max(asked[1], now + SNAPSHOT_WAIT)
        self._request(prefix)

    def on_probe(self, n: int, now: float) -> None:
        """Probe ``n`` came back: the subscriptions made before it (and before the probes
        out before it) are active at the broker."""
        probe = self.probes.get(n)
        if probe is None:
            return  # one that came back before, or dropped
        done = sorted(m for m in self.probes if m <= n)
        prefixes = []
        for m in done:
            prefixes += self.probes.pop(m).prefixes
            self._unprobe(m)
        if not probe.attached:
            # Sent before the SUB was connected: the order is now known, probe again.
            self._send_probe(prefixes, now, attached=True)
            return
        for prefix in prefixes:
            self._send_request(prefix, now)

    # -- answers ----------------------------------------------------------------------------
    def holds(self, topic: str) -> bool:
        """True when a live batch of ``topic`` must wait (check ``asked`` first: cheap)."""
        return any(topic.startswith(prefix) for prefix in self.asked)

    def hold(self, topic: str, payload: Any, sender: str | None = None) -> None:
        """Keep a live batch (from node ``sender``) until the snapshot has come."""
        self.held.append((topic, payload, sender))

    def on_end(self, prefix: Any) -> None:
        """The answer to a request for ``prefix`` is complete."""
        asked = self.asked.get(prefix) if isinstance(prefix, str) else None
        if asked is not None:
            asked[0] -= 1
            if asked[0] <= 0:
                del self.asked[prefix]
                self._release()

    def expire(self, now: float) -> None:
        """Stop waiting for probes and answers that are overdue (the broker went away, or
        is old): ask without a probe, deliver what is held."""
        late_probes = [n for n, probe in self.probes.items() if probe.deadline < now]
        for n in late_probes:
            probe = self.probes.pop(n)
            self._unprobe(n)
            self.unanswered += 1
            log.warning("probe %d not back in %.1f s: asking anyway", n, PROBE_WAIT)
            for prefix in probe.prefixes:
                self._send_request(prefix, now)
        late = [prefix for prefix, (_, deadline) in self.asked.items() if deadline < now]
        for prefix in late:
            log.warning("no snapshot of %r in %.1f s: delivering live data", prefix, SNAPSHOT_WAIT)
            del self.asked[prefix]
        if late:
            self._release()

    def forget(self) -> None:
        """Stop waiting for any answer (the broker is lost): deliver what is held."""
        self._drop_probes()
        self.asked.clear()
        self._release()

    def _drop_probes(self) -> None:
        for n in list(self.probes):
            del self.probes[n]
            self._unprobe(n)

    def _release(self) -> None:
        # Deliver, in order, what no pending request covers any more; a topic's held
        # batches all go before any new one, which is delivered (or held) after this.
        held, self.held = self.held, []
        for topic, payload, sender in held:
            if self.asked and self.holds(topic):
                self.held.append((topic, payload, sender))
            else:
                self._deliver(topic, payload, sender)
