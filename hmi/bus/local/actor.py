"""Actors, in the style of aktos_dcs: ``handle_<Name>`` receives, ``send_<Name>`` sends.

An actor message named ``Name`` travels on topic ``msg/<Name>`` and its payload is the dict
of fields given to ``send_<Name>(**fields)``; ``handle_<Name>(self, msg)`` gets that dict.
An actor does not receive what it sent itself. ``@expose`` methods are callable over RPC
with the actor's name as target; those declared ``@expose(permission=...)`` only for a
caller the bus's authorizer accepts (:mod:`hmi.bus.local.rpc`). Actors are started and owned
by a :class:`hmi.bus.local.supervisor.Supervisor`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

from hmi.bus.local.rpc import exposed_methods
from hmi.bus.wire.topics import MSG

if TYPE_CHECKING:
    from hmi.bus.local.bus import Bus, Callback, Subscription
    from hmi.bus.local.clock import Clock

log = logging.getLogger(__name__)

HANDLER_PREFIX = "handle_"
SEND_PREFIX = "send_"


class Actor:
    """Base class of everything that lives on the bus (drivers, alarm engine, GUI glue).

    Override :meth:`setup` (runs before the actor is ready: subscribe, open connections)
    and optionally :meth:`run` (a main loop; the actor stays alive after it returns until
    :meth:`stop`) and :meth:`teardown`.
    """

    #: default name: the class name (the RPC target and the actor's log name)
    name: str = ""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.name or type(self).__name__
        self.ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._bus: Bus | None = None
        self._subs: list[Subscription] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- hooks ----------------------------------------------------------------------------
    async def setup(self) -> None:
        """Prepare the actor; it is ready (and ``Supervisor.start`` returns) after this."""

    async def run(self) -> None:
        """The actor's main loop, if it has one (default: none, it just handles messages)."""

    async def teardown(self) -> None:
        """Release what :meth:`setup` acquired; runs when the actor stops."""

    # -- life -----------------------------------------------------------------------------
    @property
    def bus(self) -> Bus:
        """The bus this actor was started on."""
        if self._bus is None:
            raise RuntimeError(f"actor {self.name!r} is not started")
        return self._bus

    @property
    def clock(self) -> Clock:
        """The bus clock (virtual in deterministic tests, scaled in a fast simulator)."""
        return self.bus.clock

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopping.is_set()

    def stop(self) -> None:
        """Ask the actor to stop; its owner awaits the end."""
        self._stopping.set()

    async def wait_stopping(self) -> None:
        """Return when :meth:`stop` is called (for main loops)."""
        await self._stopping.wait()

    async def _main(self, bus: Bus) -> None:
        """Attach, set up, run until stopped, clean up. The supervisor's task runs this."""
        self._bus = bus
        run_task: asyncio.Task[Any] | None = None
        try:
            for attr in dir(type(self)):
                if attr.startswith(HANDLER_PREFIX) and callable(getattr(self, attr)):
                    handler = getattr(self, attr)
                    self.subscribe(MSG + attr[len(HANDLER_PREFIX) :], _message_handler(handler))
            if exposed_methods(self):
                bus.expose(self.name, self)
            await self.setup()
            self.ready.set()
            run_task = asyncio.get_running_loop().create_task(self.run(), name=f"{self.name}.run")
            stop_task = asyncio.get_running_loop().create_task(self._stopping.wait())
            try:
                await asyncio.wait({run_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
                if run_task.done() and not run_task.cancelled():
                    run_task.result()  # raise run()'s exception: the actor crashed
                await stop_task
            finally:
                stop_task.cancel()
        finally:
            if run_task is not None and not run_task.done():
                run_task.cancel()
                await asyncio.gather(run_task, return_exceptions=True)
            await self._cleanup(bus)

    async def _cleanup(self, bus: Bus) -> None:
        for sub in self._subs:
            sub.cancel()
        self._subs.clear()
        bus.unexpose(self.name)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self.teardown()
        except Exception:
            log.exception("actor %s: teardown failed", self.name)

    # -- messaging ------------------------------------------------------------------------
    def publish(self, topic: str, payload: Any = None) -> None:
        """Publish on ``topic``; this actor's own subscriptions do not receive it."""
        self.bus.publish(topic, payload, origin=self)

    def send(self, name: str, **fields: Any) -> None:
        """Send actor message ``name`` (topic ``msg/<name>``, payload ``fields``)."""
        self.bus.publish(MSG + name, fields, origin=self)

    def __getattr__(self, attr: str) -> Callable[..., None]:
        # aktos style: self.send_PingMessage(text="hi") is self.send("PingMessage", text="hi")
        if attr.startswith(SEND_PREFIX) and len(attr) > len(SEND_PREFIX):
            return partial(self.send, attr[len(SEND_PREFIX) :])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def subscribe(self, pattern: str, callback: Callback) -> Subscription:
        """Subscribe ``callback(topic, payload)``; errors are logged with actor and topic,
        async callbacks run as tasks of this actor; ends when the actor stops."""
        sub = self.bus.subscribe(pattern, self._guard(callback), owner=self)
        self._subs.append(sub)
        return sub

    async def call(
        self, target: str, method: str, *args: Any, timeout: float = 5.0, **kwargs: Any
    ) -> Any:
        """``bus.call`` from this actor."""
        return await self.bus.call(target, method, *args, timeout=timeout, **kwargs)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` as a task of this actor: cancelled when it stops, errors logged."""
        task = asyncio.get_running_loop().create_task(coro, name=name or f"{self.name} task")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("actor %s: %s failed", self.name, task.get_name(), exc_info=exc)

    def _guard(self, callback: Callback) -> Callback:
        def guarded(topic: str, payload: Any) -> None:
            try:
                result = callback(topic, payload)
            except Exception:
                self.bus.stats.callback_errors += 1
                log.exception("actor %s: handler %r failed on topic %r", self.name, callback, topic)
                return
            if result is not None and inspect.isawaitable(result):
                self.spawn(_log_errors(self, topic, result), name=f"{self.name} <- {topic}")

        return guarded

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _message_handler(handler: Callable[[Any], Any]) -> Callback:
    def on_message(topic: str, payload: Any) -> Any:
        return handler(payload)

    on_message.__qualname__ = getattr(handler, "__qualname__", "handler")
    return on_message


async def _log_errors(actor: Actor, topic: str, awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        actor.bus.stats.callback_errors += 1
        log.exception("actor %s: async handler failed on topic %r", actor.name, topic)
