"""The supervisor: the owner of actors (trio's nursery idea on plain asyncio).

``await sup.start(actor)`` returns once the actor is ready (its ``setup`` done) or raises
what ``setup`` raised; ``await sup.stop()`` stops every actor, newest first, and waits for
them. It works on any running loop: qasync in the GUI, plain asyncio in headless nodes.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from hmi.bus.local.actor import Actor
from hmi.bus.local.bus import Bus

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Actor)


class Supervisor:
    """Owns the tasks of its actors; an actor that crashes is logged, never lost."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._actors: dict[str, tuple[Actor, asyncio.Task[None]]] = {}
        self.failed: dict[str, BaseException] = {}

    @property
    def actors(self) -> dict[str, Actor]:
        """Running actors by name."""
        return {name: actor for name, (actor, task) in self._actors.items() if not task.done()}

    async def start(self, actor: A) -> A:
        """Start ``actor`` and wait until it is ready; returns it."""
        if actor.name in self.actors:
            raise ValueError(f"an actor named {actor.name!r} is already running")
        task = asyncio.get_running_loop().create_task(actor._main(self.bus), name=actor.name)
        self._actors[actor.name] = (actor, task)
        task.add_done_callback(partial(self._on_done, actor))
        ready = asyncio.get_running_loop().create_task(actor.ready.wait())
        try:
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if not actor.ready.is_set():
            if task.cancelled():
                raise asyncio.CancelledError
            exc = task.exception()
            raise exc if exc is not None else RuntimeError(f"actor {actor.name!r} ended in setup")
        return actor

    def _on_done(self, actor: Actor, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failed[actor.name] = exc
            if actor.ready.is_set():  # setup failures are raised by start() instead
                log.error("actor %s crashed", actor.name, exc_info=exc)

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop every actor, newest first; cancel those not done within ``timeout``."""
        for actor, task in reversed(list(self._actors.values())):
            actor.stop()
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                log.warning("actor %s did not stop within %s s: cancelled", actor.name, timeout)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._actors.clear()

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"<Supervisor {sorted(self.actors)}>"


__all__: list[Any] = ["Supervisor"]
