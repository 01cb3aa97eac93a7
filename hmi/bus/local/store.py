"""Feeding a TagStore from the bus: every ``tag/`` batch is applied in one ``store.apply``,
and the values marked when the node's broker is lost.

A value shown GOOD must be one that is still true, as far as this node can know. When the
broker goes silent (``$sys/broker/lost``, delivered by the node's session after its broker
timeout), nothing published elsewhere reaches the node any more: every tag the binding has
applied from the bus and whose sample is GOOD turns UNCERTAIN, reason ``broker lost``
(value kept; BAD and UNCERTAIN ones keep their quality and reason). Only fresh data makes
them GOOD again: a live batch, or the snapshot of the resync once the broker is back (it
arrives through the same subscription). Tags this node publishes itself are left alone:
their values do not come through the broker. A local bus never loses a broker.
"""

from __future__ import annotations

import logging
from typing import Any

from hmi.bus.local.bus import Bus, Subscription
from hmi.bus.wire.samples import MalformedPayload, decode_samples
from hmi.bus.wire.topics import BROKER_LOST
from hmi.core.quality import Quality, Reason
from hmi.core.tagstore import TagStore

log = logging.getLogger(__name__)


def bind_store(bus: Bus, store: TagStore, pattern: str = "tag/#") -> Subscription:
    """Apply every sample batch published on ``pattern`` to ``store``; returns the
    subscription (cancel it to unbind). Receive times come from ``bus.clock``; a malformed
    batch is dropped, logged and counted in ``bus.stats.malformed``. On a bus with a
    transport, the values turn UNCERTAIN while the broker is lost (module docstring)."""
    clock = bus.clock
    apply = store.apply
    #: every tag applied from the bus (~0.7 us per 100-sample batch, against ~37 to decode)
    applied: set[str] = set()
    remember = applied.update

    def on_batch(topic: str, payload: Any) -> None:
        try:
            batch = decode_samples(payload, clock.time())
        except MalformedPayload as exc:
            bus.stats.malformed += 1
            log.warning("dropped malformed samples on %r: %s", topic, exc)
            return
        remember(batch)
        apply(batch)

    subscription = bus.subscribe(pattern, on_batch)
    transport = bus.transport
    if transport is None:
        return subscription

    def on_lost(topic: str, payload: Any) -> None:
        address = payload.get("address") if isinstance(payload, dict) else None
        quality = Quality.uncertain(Reason.BROKER_LOST, f"broker {address or '?'} silent")
        now = clock.time()
        own = transport.published_tags()
        get = store.get
        marked = {}
        for name in applied:
            sample = get(name)
            if sample.quality.is_good and name not in own:
                marked[name] = sample.degraded(quality, now)
        apply(marked)

    subscription.link(bus.subscribe(BROKER_LOST, on_lost))
    return subscription
