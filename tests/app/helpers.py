"""Helpers for whole-plant tests: wait on bus traffic with events, not sleeps."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from hmi.bus import Bus
from hmi.bus.wire.messages import decode_result, encode_command
from hmi.core.command import Command, CommandResult


class Results:
    """Collects ``result/#`` and lets a test await the result of one command id."""

    def __init__(self, bus: Bus) -> None:
        self._waiters: dict[str, asyncio.Future[CommandResult]] = {}
        self.seen: dict[str, CommandResult] = {}
        bus.subscribe("result/#", self._on_result)

    def _on_result(self, topic: str, payload: Any) -> None:
        result = decode_result(payload)
        self.seen[result.id] = result
        waiter = self._waiters.get(result.id)
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    async def wait(self, command_id: str, timeout: float = 5.0) -> CommandResult:
        if command_id in self.seen:
            return self.seen[command_id]
        waiter = self._waiters.setdefault(command_id, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(waiter, timeout)


def send(bus: Bus, tag: str, value: Any, **fields: Any) -> str:
    """Publish a command as any node could (or a crafted one), issued now unless ``time``
    says otherwise; returns its id."""
    fields.setdefault("time", time.time())
    command = Command(id=uuid.uuid4().hex, tag=tag, value=value, **fields)
    bus.publish(f"cmd/{tag}", encode_command(command))
    return command.id


async def until_value(store: Any, tag: str, predicate: Any, timeout: float = 5.0) -> None:
    """Wait until ``predicate(store.get(tag))`` holds, woken by the store's own updates."""
    changed = asyncio.Event()
    stop = store.watch(tag, lambda name, sample: changed.set())
    try:
        async with asyncio.timeout(timeout):
            while not predicate(store.get(tag)):
                changed.clear()
                await changed.wait()
    finally:
        stop()


def node_of(bus: Bus) -> str:
    """The node id the broker knows ``bus`` by ("" for an in-memory bus): a session must
    be logged in with it to be used from that node."""
    return str(getattr(bus.transport, "node_id", ""))
