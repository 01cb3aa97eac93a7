"""Clocks: real, virtual (deterministic tests) and scaled (a simulator N x real time).

Everything on the bus that waits or stamps time asks ``bus.clock``, never ``time`` or
``asyncio.sleep`` directly, so a test can drive hours of plant time in milliseconds
(:class:`VirtualClock`, like aiomas' LocalQueue mode) and the simulator can run faster than
real time (:class:`ScaledClock`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time as _time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol


class TimerHandle(Protocol):
    """What :meth:`Clock.call_later` returns: something that can be cancelled."""

    def cancel(self) -> None:
        """Do not run the callback (no effect once it ran)."""


class Clock(ABC):
    """Time as the bus sees it."""

    @abstractmethod
    def time(self) -> float:
        """Wall-clock time, POSIX seconds (sample and message timestamps)."""

    @abstractmethod
    def monotonic(self) -> float:
        """Seconds that never go backwards (timeouts, rates)."""

    @abstractmethod
    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds`` of this clock's time."""

    @abstractmethod
    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` after ``delay`` seconds of this clock's time."""


class RealClock(Clock):
    """The machine's clock and the running asyncio loop."""

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback, *args)


class ScaledClock(Clock):
    """Real time sped up ``speed`` times from the moment of creation (``hmi sim --speed``)."""

    def __init__(self, speed: float, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.speed = speed
        self._real0 = _time.monotonic()
        self._start = _time.time() if start is None else start

    def monotonic(self) -> float:
        return (_time.monotonic() - self._real0) * self.speed

    def time(self) -> float:
        return self._start + self.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, delay) / self.speed, callback, *args)


class _VirtualTimer:
    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock(Clock):
    """A clock that moves only when told: :meth:`advance` or ``await`` :meth:`run_for`.

    Timers fire in order of due time (ties in order of creation), each seeing
    :meth:`time` equal to its due time. ``sleep`` needs :meth:`run_for`, which lets the
    event loop run the woken tasks between timers; :meth:`advance` is the synchronous
    variant for callback-only code.
    """

    #: loop iterations granted to woken tasks between two timers
    SETTLE_ROUNDS = 20

    def __init__(self, start: float = 0.0) -> None:
        self._start = start
        self._elapsed = 0.0
        self._timers: list[tuple[float, int, _VirtualTimer]] = []
        self._counter = itertools.count()

    def time(self) -> float:
        return self._start + self._elapsed

    def monotonic(self) -> float:
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handle = self.call_later(seconds, _resolve, future)
        try:
            await future
        finally:
            handle.cancel()

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        timer = _VirtualTimer(self._elapsed + max(0.0, delay), callback, args)
        heapq.heappush(self._timers, (timer.when, next(self._counter), timer))
        return timer

    @property
    def pending(self) -> int:
        """Timers not yet fired nor cancelled."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    def _pop_due(self, until: float) -> _VirtualTimer | None:
        while self._timers and self._timers[0][0] <= until:
            timer = heapq.heappop(self._timers)[2]
            if not timer.cancelled:
                return timer
        return None

    def advance(self, seconds: float) -> None:
        """Move time forward, firing due timers synchronously, in order."""
        target = self._elapsed + seconds
        while (timer := self._pop_due(target)) is not None:
            self._elapsed = max(self._elapsed, timer.when)
            timer.callback(*timer.args)
        self._elapsed = target

    async def run_for(self, seconds: float) -> None:
        """Move time forward, letting the loop run woken tasks after each timer."""
        target = self._elapsed + seconds
        await self.settle()
        while (timer := self._pop_due(target)) is not None:
            self._elapsed = max(self._elapsed, timer.when)
            timer.callback(*timer.args)
            await self.settle()
        self._elapsed = target
        await self.settle()

    async def settle(self) -> None:
        """Give ready tasks a few loop iterations (what follows a timer or a publish)."""
        for _ in range(self.SETTLE_ROUNDS):
            await asyncio.sleep(0)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
