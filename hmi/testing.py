"""Test kit: run the simulated plant from tests (a pytest plugin, entry point ``pytest11``).

The ``plant`` fixture serves one simulated plant on a free port of 127.0.0.1 and yields a
:class:`RunningPlant`: its address, the fault API, and :meth:`RunningPlant.advance` to move
simulated time (time stands still otherwise, so tests are deterministic)::

    def test_pump_starts(plant):
        client = ModbusTcpClient(plant.host, port=plant.port)
        ...
        plant.advance(5.0)
        assert plant.read("area1/p101/running") is True   # or the signal, "pump_running"

``@pytest.mark.plant(devices=3, speed=50)`` serves three plants (unit ids 1..3) and lets time
run 50 times faster than real time. Outside pytest, use :func:`serve_plant` the same way.

The ``plant_backend`` fixture runs the whole backend of a project with its plant simulated
(hmi.app.plant.Backend: simulator, drivers, security, audit, alarm engine, historian) on an
in-memory bus, in real time, and yields a :class:`RunningBackend` to drive faults and assert
what the alarm engine and the operator would see (see docs/simulated-plant.md)::

    def test_a_pump_trip_raises_its_alarm(plant_backend):
        plant_backend.inject("pump_trip")
        alarm = plant_backend.wait_for_alarm("area1/p101/tripped")
        assert alarm.priority == 1
"""

from __future__ import annotations

import asyncio
import difflib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from hmi.bus.local.clock import ScaledClock
from hmi.sim.plant import COMMANDS, MEASUREMENTS, STATES, Value
from hmi.sim.registers import by_tag
from hmi.sim.server import Simulator

T = TypeVar("T")


def signal_of(name: str) -> str:
    """The plant signal of ``name``: a demo-plant tag name (``area1/p101/running``) is
    mapped through the register map (``pump_running``); a signal name stays as it is.

    KeyError for a name that is neither, with the nearest one (a test's typo should say
    what it meant, not only "unknown signal").
    """
    tags = by_tag()
    point = tags.get(name)
    if point is not None:
        return point.signal
    signals = (*MEASUREMENTS, *STATES, *COMMANDS)
    if name not in signals:
        close = difflib.get_close_matches(name, [*tags, *signals], n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise KeyError(
            f"{name!r} is neither a demo-plant tag (area1/t101/level) nor a signal of the "
            f"register map (level): {hint}see docs/simulated-plant.md, Register map"
        )
    return name


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

    def read(self, name: str, unit_id: int | None = None) -> Value:
        """The true value in the model (not what a master sees under faults) of a signal
        (``level``) or a demo-plant tag (``area1/t101/level``)."""
        signal = signal_of(name)
        return self.call(lambda: self.sim.unit(unit_id).plant.read(signal))

    def write(self, name: str, value: Value, unit_id: int | None = None) -> None:
        """Set a command signal (``pump_run``) or demo-plant command tag
        (``area1/p101/start``) as if a master had written it."""
        signal = signal_of(name)

        def write() -> None:
            unit = self.sim.unit(unit_id)
            try:
                unit.plant.write(signal, value)
            except KeyError as exc:
                if signal == name:
                    raise
                raise KeyError(f"{name!r} (signal {signal!r}): {exc.args[0]}") from None
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
    """Register the ``plant`` and ``plant_backend`` markers."""
    config.addinivalue_line(
        "markers", "plant(devices=1, speed=None): options of the simulated plant fixture"
    )
    config.addinivalue_line(
        "markers",
        "plant_backend(project=None): the project whose backend the plant_backend fixture "
        "runs (default: examples/demo-plant.yaml)",
    )


@pytest.fixture
def plant(request: pytest.FixtureRequest) -> Iterator[RunningPlant]:
    """A simulated plant on a free port of 127.0.0.1; stopped after the test."""
    marker = request.node.get_closest_marker("plant")
    options = dict(marker.kwargs) if marker else {}
    with serve_plant(devices=options.get("devices", 1), speed=options.get("speed")) as running:
        yield running


@pytest.fixture
def plant_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The backend of a project (default: the demo plant) with its plant simulated, on an
    in-memory bus in a background thread; stopped after the test."""
    from hmi.testing_backend import serve_backend

    marker = request.node.get_closest_marker("plant_backend")
    project = (marker.kwargs.get("project") if marker else None) or None
    with serve_backend(project, tmp_path_factory.mktemp("backend")) as running:
        yield running
