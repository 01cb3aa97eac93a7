"""The bus: publish/subscribe with MQTT-like patterns, RPC, and an owner for its tasks.

One :class:`Bus` per process. ``Bus.local()`` is in-memory: payload objects are handed to
subscribers as they are, no sockets, no serialization. ``await hmi.bus.connect(...)``
(:func:`hmi.bus.net.connect.connect`) adds a ZeroMQ transport to a broker; actors and
scripts use the same methods either way.

Delivery is in publish order, through a trampoline: a callback that publishes does not
recurse, its message is delivered after the current one to every subscriber, so no
subscriber ever sees an effect before its cause.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from hmi.bus.local.clock import Clock, RealClock
from hmi.bus.local.rpc import (
    Authorizer,
    RemoteError,
    RpcTimeout,
    dispatched,
    exposed_methods,
    invoke,
    no_target,
    permission_of,
)
from hmi.bus.wire.topics import compile_pattern, literal_prefix, validate_topic

log = logging.getLogger(__name__)

#: ``callback(topic, payload)``; may return an awaitable, which the bus runs as a task
Callback = Callable[[str, Any], Awaitable[None] | None]


class Transport(Protocol):
    """What a remote transport offers the bus (see :mod:`hmi.bus.net.transport`)."""

    @property
    def link_state(self) -> str:
        """``waiting``, ``connected``, ``lost`` or ``refused`` (see :mod:`hmi.bus.net.link`)."""
        ...

    @property
    def on_link(self) -> list[Callable[[str, str], None]]:
        """Called with ``(state, detail)`` on every change of the link."""
        ...

    async def wait_connected(self, timeout: float | None = None) -> bool: ...
    def published_tags(self) -> set[str]: ...
    def send(self, topic: str, payload: Any) -> None: ...
    def subscribe(self, prefix: str) -> None: ...
    def unsubscribe(self, prefix: str) -> None: ...
    def expose(self, name: str) -> None: ...
    def unexpose(self, name: str) -> None: ...
    async def call(
        self,
        target: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float,
    ) -> Any: ...
    async def close(self) -> None: ...


@dataclass
class BusStats:
    """Counters a node reports on ``$sys`` and tests assert on."""

    published: int = 0
    delivered: int = 0
    received: int = 0
    callback_errors: int = 0
    malformed: int = 0
    gaps: int = 0
    dropped: int = 0


class Subscription:
    """A pattern and a callback; :meth:`cancel` ends it (idempotent)."""

    __slots__ = ("_bus", "_linked", "active", "callback", "match", "owner", "pattern")

    def __init__(self, bus: Bus, pattern: str, callback: Callback, owner: object | None) -> None:
        self._bus = bus
        self.pattern = pattern
        self.callback = callback
        self.owner = owner
        self.match = compile_pattern(pattern)
        self.active = True
        self._linked: list[Subscription] = []

    def cancel(self) -> None:
        """Stop delivering to this subscription (and to those :meth:`link` ed to it)."""
        if self.active:
            self.active = False
            self._bus._remove(self)
            for other in self._linked:
                other.cancel()

    def link(self, other: Subscription) -> None:
        """Cancel ``other`` with this one (one handle for what works together)."""
        self._linked.append(other)

    def __repr__(self) -> str:
        return f"<Subscription {self.pattern!r} -> {self.callback!r}>"


class Bus:
    """Publish/subscribe and RPC for the actors of one process (see the module docstring)."""

    #: cached topic -> subscribers lookups kept before the cache is cleared
    CACHE_LIMIT = 20_000

    def __init__(
        self, clock: Clock | None = None, transport: Transport | None = None, name: str = ""
    ) -> None:
        self.clock: Clock = clock if clock is not None else RealClock()
        self.name = name
        self.stats = BusStats()
        self._transport = transport
        self._subs: list[Subscription] = []
        self._cache: dict[str, tuple[Subscription, ...]] = {}
        self._prefixes: dict[str, int] = {}
        self._targets: dict[str, dict[str, Callable[..., Any]]] = {}
        self._queue: deque[tuple[str, Any, object | None]] = deque()
        self._dispatching = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        #: checks the callers of methods that declare a permission (``@expose(permission=)``):
        #: installed by the composition root; while None, every such call is refused
        self.authorizer: Authorizer | None = None

    # -- construction --------------------------------------------------------------------
    @classmethod
    def local(cls, clock: Clock | None = None, name: str = "local") -> Bus:
        """An in-memory bus: one process, no sockets, no serialization."""
        return cls(clock=clock, name=name)

    def attach_transport(self, transport: Transport) -> None:
        """Join this bus to a remote transport (called by :func:`hmi.bus.net.connect`)."""
        self._transport = transport

    @property
    def transport(self) -> Transport | None:
        """The remote transport, or None for an in-memory bus."""
        return self._transport

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    # -- publish / subscribe ---------------------------------------------------------------
    def publish(self, topic: str, payload: Any = None, *, origin: object | None = None) -> None:
        """Send ``payload`` to every subscriber of ``topic``, here and on other nodes.

        Subscriptions owned by ``origin`` (an actor publishing) do not get it back.
        """
        if self._closed:
            raise RuntimeError("publish on a closed bus")
        validate_topic(topic)
        self.stats.published += 1
        if self._transport is not None:
            self._transport.send(topic, payload)
        self.deliver(topic, payload, origin)

    def deliver(self, topic: str, payload: Any, origin: object | None = None) -> None:
        """Hand a message to the local subscribers only (transports call this)."""
        if self._dispatching:
            self._queue.append((topic, payload, origin))
            return  # the outer loop below delivers it, after the current message
        self._dispatching = True
        try:
            queue = self._queue
            t, p, o = topic, payload, origin
            while True:
                subs = self._cache.get(t)
                if subs is None:
                    subs = self._lookup(t)
                for sub in subs:
                    if sub.active and (o is None or sub.owner is not o):
                        self._invoke(sub, t, p)
                if not queue:
                    break
                t, p, o = queue.popleft()
        finally:
            self._dispatching = False

    def _invoke(self, sub: Subscription, topic: str, payload: Any) -> None:
        self.stats.delivered += 1
        try:
            result = sub.callback(topic, payload)
        except Exception:
            self.stats.callback_errors += 1
            log.exception("subscriber %r failed on topic %r", sub.callback, topic)
            return
        if result is not None and asyncio.iscoroutine(result):
            self.spawn(result, name=f"{topic} -> {sub.pattern}")

    def _lookup(self, topic: str) -> tuple[Subscription, ...]:
        subs = tuple(s for s in self._subs if s.match(topic))
        if len(self._cache) >= self.CACHE_LIMIT:
            self._cache.clear()
        self._cache[topic] = subs
        return subs

    def subscribe(
        self, pattern: str, callback: Callback, *, owner: object | None = None
    ) -> Subscription:
        """Call ``callback(topic, payload)`` for every message matching ``pattern``.

        ``+`` matches one level, ``#`` the rest; the callback may be async (run as a task
        owned by the bus). An exception in it is logged and counted, never propagated.
        """
        sub = Subscription(self, pattern, callback, owner)
        self._subs.append(sub)
        self._cache.clear()
        prefix = literal_prefix(pattern)
        count = self._prefixes.get(prefix, 0)
        self._prefixes[prefix] = count + 1
        if count == 0 and self._transport is not None:
            self._transport.subscribe(prefix)
        return sub

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._cache.clear()
            prefix = literal_prefix(sub.pattern)
            count = self._prefixes.get(prefix, 0) - 1
            if count <= 0:
                self._prefixes.pop(prefix, None)
                if self._transport is not None and not self._closed:
                    self._transport.unsubscribe(prefix)
            else:
                self._prefixes[prefix] = count

    @property
    def prefixes(self) -> list[str]:
        """The literal topic prefixes subscribed to (what a transport asks the broker for)."""
        return list(self._prefixes)

    # -- RPC ------------------------------------------------------------------------------
    def expose(self, name: str, obj: object) -> None:
        """Make the ``@expose`` methods of ``obj`` callable as RPC target ``name``.

        Methods that declare a permission are checked by :attr:`authorizer` at every call,
        local or remote (see :mod:`hmi.bus.local.rpc`); the others are called as they are.
        """
        if name in self._targets:
            raise ValueError(f"RPC target {name!r} is already exposed")
        self._targets[name] = {
            method: dispatched(func, name, method, self._authorizer, self._sender)
            for method, func in exposed_methods(obj).items()
        }
        if self._transport is not None:
            self._transport.expose(name)

    def unexpose(self, name: str) -> None:
        """Withdraw RPC target ``name`` (no error if it is not exposed)."""
        removed = self._targets.pop(name, None) is not None
        if removed and self._transport is not None and not self._closed:
            self._transport.unexpose(name)

    def target_methods(self, name: str) -> dict[str, Callable[..., Any]] | None:
        """The dispatch table of local target ``name``: its exposed methods, those with a
        permission behind their check (transports run every call with these)."""
        return self._targets.get(name)

    @property
    def current_sender(self) -> str | None:
        """The verified id of the node whose message (or call) is being delivered, when
        the transport tells (its ``current_sender``); None for this process's own."""
        return self._sender()

    def _authorizer(self) -> Authorizer | None:
        return self.authorizer

    def _sender(self) -> str | None:
        # getattr: a transport that cannot tell the sender has no such attribute
        sender = getattr(self._transport, "current_sender", None)
        return sender if isinstance(sender, str) else None

    @property
    def targets(self) -> list[str]:
        """The RPC targets exposed on this node."""
        return list(self._targets)

    async def call_in_task(self, target: str, method: str, *args: Any, timeout: float = 5.0) -> Any:
        """:meth:`call`, run in the calling task when the target is a synchronous method of
        this process that declares no permission.

        Such a method answers within the first step of the task :meth:`call` starts for
        it, so its timeout can never cut it short: calling it here only skips that task and
        the wake-up of the caller after it, two turns of the loop (a Qt timer event each
        under qasync); the drivers do it on every write (the session check and the audit
        intent). A remote target, an async method or one behind a permission check goes
        through :meth:`call`, timeout and all.
        """
        methods = self._targets.get(target)
        func = methods.get(method) if methods is not None else None
        if (
            methods is None
            or func is None
            or permission_of(func) is not None
            or inspect.iscoroutinefunction(func)
        ):
            return await self.call(target, method, *args, timeout=timeout)
        return await invoke(methods, target, method, args, {})

    async def call(
        self, target: str, method: str, *args: Any, timeout: float = 5.0, **kwargs: Any
    ) -> Any:
        """Call ``method`` of RPC ``target`` and return its result.

        Raises :class:`RpcTimeout` after ``timeout`` seconds of ``bus.clock`` and
        :class:`RemoteError` (with the remote exception's type name and message) when the
        method raised. Many calls may be in flight at once. A method that declares a
        permission needs the caller's session token as ``token=`` (refused otherwise:
        ``RemoteError`` of type ``PermissionError``).
        """
        methods = self._targets.get(target)
        if methods is not None:
            return await self.with_timeout(invoke(methods, target, method, args, kwargs), timeout)
        if self._transport is not None:
            return await self._transport.call(target, method, args, kwargs, timeout)
        raise no_target(target, method)

    async def handle_call(
        self, target: str, method: str, args: list[Any] | tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run an incoming call on a local target (transports call this)."""
        methods = self._targets.get(target)
        if methods is None:
            raise no_target(target, method)
        return await invoke(methods, target, method, args, kwargs)

    async def with_timeout(self, awaitable: Coroutine[Any, Any, Any], timeout: float) -> Any:
        """Await ``awaitable``; cancel it and raise RpcTimeout after ``timeout`` (bus clock)."""
        task = asyncio.ensure_future(awaitable)
        timed_out = False

        def on_timeout() -> None:
            nonlocal timed_out
            timed_out = True
            task.cancel()

        handle = self.clock.call_later(timeout, on_timeout)
        try:
            return await task
        except asyncio.CancelledError:
            if timed_out:
                raise RpcTimeout(f"no reply within {timeout} s") from None
            raise
        finally:
            handle.cancel()

    # -- tasks and shutdown ------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` as a task owned by the bus: errors are logged, close() cancels it."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.stats.callback_errors += 1
            log.error("task %r failed", task.get_name(), exc_info=exc)

    async def drain(self) -> None:
        """Wait until the tasks started by async callbacks are done (tests use this)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop the transport and every task the bus owns; further publishes raise."""
        if self._closed:
            return
        self._closed = True
        if self._transport is not None:
            await self._transport.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._subs.clear()
        self._cache.clear()


__all__ = ["Bus", "BusStats", "Callback", "RemoteError", "RpcTimeout", "Subscription"]
