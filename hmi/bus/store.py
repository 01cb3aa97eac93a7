"""Feeding a TagStore from the bus: every ``tag/`` batch is applied in one ``store.apply``."""

from __future__ import annotations

import logging
from typing import Any

from hmi.bus.bus import Bus, Subscription
from hmi.bus.samples import MalformedPayload, decode_samples
from hmi.core.tagstore import TagStore

log = logging.getLogger(__name__)


def bind_store(bus: Bus, store: TagStore, pattern: str = "tag/#") -> Subscription:
    """Apply every sample batch published on ``pattern`` to ``store``; returns the
    subscription (cancel it to unbind). Receive times come from ``bus.clock``; a malformed
    batch is dropped, logged and counted in ``bus.stats.malformed``."""
    clock = bus.clock
    apply = store.apply

    def on_batch(topic: str, payload: Any) -> None:
        try:
            batch = decode_samples(payload, clock.time())
        except MalformedPayload as exc:
            bus.stats.malformed += 1
            log.warning("dropped malformed samples on %r: %s", topic, exc)
            return
        apply(batch)

    return bus.subscribe(pattern, on_batch)
