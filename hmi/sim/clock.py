"""The clock the simulator runs on: a small Protocol and stand-in implementations.

The bus issue will provide ``hmi.bus.clock`` (RealClock, ScaledClock(speed), VirtualClock);
until it lands the simulator depends only on :class:`Clock` below, so switching is an import
change. These stand-ins are deliberately minimal and private to the simulator.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What the simulator needs from a clock (seconds)."""

    def time(self) -> float:
        """Wall-clock-like time (epoch seconds)."""

    def monotonic(self) -> float:
        """Monotonic time for measuring intervals."""

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of this clock's time."""


class RealClock:
    """The machine's clock."""

    def time(self) -> float:
        """Epoch seconds."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        await asyncio.sleep(seconds)


class ScaledClock:
    """A clock running ``speed`` times faster than real time, from the moment it is made."""

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be above 0")
        self.speed = speed
        self._t0 = time.time()
        self._m0 = time.monotonic()

    def time(self) -> float:
        """Scaled epoch seconds (starts at the real time of creation)."""
        return self._t0 + (time.monotonic() - self._m0) * self.speed

    def monotonic(self) -> float:
        """Scaled monotonic seconds."""
        return self._m0 + (time.monotonic() - self._m0) * self.speed

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of scaled time (``seconds / speed`` of real time)."""
        await asyncio.sleep(seconds / self.speed)
