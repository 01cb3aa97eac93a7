"""Test kit: run the simulated plant from tests (a pytest plugin, entry point ``pytest11``).

The ``plant`` fixture serves one simulated plant on a free port of 127.0.0.1 and yields a
:class:`RunningPlant`: its address, the fault API, and :meth:`RunningPlant.advance` to move
simulated time (time stands still otherwise, so tests are deterministic)::

    def test_pump_starts(plant):
        client = ModbusTcpClient(plant.host, port=plant.port)
        ...
        plant.advance(5.0)
        assert plant.read("pump_running") is True

``@pytest.mark.plant(devices=3, speed=50)`` serves three plants (unit ids 1..3) and lets time
run 50 times faster than real time. Outside pytest, use :func:`serve_plant` the same way.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from hmi.bus.clock import ScaledClock
from hmi.sim.plant import Value
from hmi.sim.server import Simulator

T = TypeVar("T")


class _OnLoop:
    """Forwards method calls to an object that lives on the simulator's event loop thread."""

    def __init__(self, target: object, plant: RunningPlant) -> None:
        self._target = target
        self._plant = plant

    def __getattr__(self, name: str) -> Any:
        attr = self._plant.call(lambda: getattr(self._target, name))
        if not callable(attr):
            return attr
        return lambda *args, **kwargs: self._plant.call(lambda: attr(*args, **kwargs))


class RunningPlant:
    """A simulator serving in a background thread; every method is safe to call from tests."""

    def __init__(self, sim: Simulator, loop: asyncio.AbstractEventLoop) -> None:
        self.sim = sim
        self._loop = loop

    @property
    def host(self) -> str:
        """The address the plant listens on (127.0.0.1)."""
        return self.sim.host

    @property
    def port(self) -> int:
        """The TCP port the plant listens on."""
        return self.sim.port

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``."""
        return self.sim.host, self.sim.port

    @property
    def unit_ids(self) -> list[int]:
        """The Modbus unit ids served (1 .. devices)."""
        return list(self.sim.units)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the simulator's thread and return its result."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def faults(self, unit_id: int | None = None) -> Any:
        """The fault API (:class:`hmi.sim.faults.PlantFaults`) of one unit (default: first)."""
        return _OnLoop(self.sim.faults(unit_id), self)

    def advance(self, seconds: float, unit_id: int | None = None) -> None:
        """Move simulated time on by ``seconds`` (every unit, or only ``unit_id``)."""
        if unit_id is None:
            self.call(lambda: self.sim.advance(seconds))
        else:
            self.call(lambda: self.sim.unit(unit_id).advance(seconds))

    def read(self, signal: str, unit_id: int | None = None) -> Value:
        """A signal's true value in the model (not what a master sees under faults)."""
        return self.call(lambda: self.sim.unit(unit_id).plant.read(signal))

    def write(self, signal: str, value: Value, unit_id: int | None = None) -> None:
        """Set a command signal as if a master had written it."""

        def write() -> None:
            unit = self.sim.unit(unit_id)
            unit.plant.write(signal, value)
            unit.refresh()

        self.call(write)

    @property
    def time(self) -> float:
        """Simulated seconds since start."""
        return self.call(lambda: self.sim.time)


@contextmanager
def serve_plant(
    devices: int = 1, port: int = 0, host: str = "127.0.0.1", speed: float | None = None
) -> Iterator[RunningPlant]:
    """Serve ``devices`` plants in a background thread until the ``with`` block ends.

    ``port=0`` picks a free port. ``speed=None`` keeps time still (move it with
    :meth:`RunningPlant.advance`); a number runs the plants that many times faster than real.
    """
    loop = asyncio.new_event_loop()
    clock = ScaledClock(speed) if speed else None
    sim = Simulator(devices, host=host, port=port, clock=clock)
    started = threading.Event()
    stop: asyncio.Event | None = None
    failure: list[BaseException] = []

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        try:
            await sim.start()
        except BaseException as exc:
            failure.append(exc)
            started.set()
            return
        runner = asyncio.create_task(sim.run()) if speed else None
        started.set()
        try:
            await stop.wait()
        finally:
            if runner is not None:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
            await sim.stop()

    thread = threading.Thread(
        target=loop.run_until_complete, args=(main(),), name="hmi-sim", daemon=True
    )
    thread.start()
    started.wait(timeout=10)
    try:
        if failure:
            raise RuntimeError(f"the simulated plant did not start: {failure[0]}") from failure[0]
        yield RunningPlant(sim, loop)
    finally:
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``plant`` marker."""
    config.addinivalue_line(
        "markers", "plant(devices=1, speed=None): options of the simulated plant fixture"
    )


@pytest.fixture
def plant(request: pytest.FixtureRequest) -> Iterator[RunningPlant]:
    """A simulated plant on a free port of 127.0.0.1; stopped after the test."""
    marker = request.node.get_closest_marker("plant")
    options = dict(marker.kwargs) if marker else {}
    with serve_plant(devices=options.get("devices", 1), speed=options.get("speed")) as running:
        yield running
