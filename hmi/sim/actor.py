"""The simulator as a bus actor: serves Modbus, runs the plants, takes faults over RPC.

RPC target ``sim`` (or the name given)::

    await bus.call("sim", "inject", "comm_loss", duration=5, unit=1)
    await bus.call("sim", "clear", "comm_loss")          # or clear() for every fault
    await bus.call("sim", "faults")                      # {unit id: [active faults]}
    await bus.call("sim", "read", "level")               # a plant signal, true value

Commissioning engineers drive faults this way at runtime from any node of the plant; the
control register block (docs/simulated-plant.md) does the same from a Modbus master.
"""

from __future__ import annotations

from typing import Any

from hmi.bus import Actor, expose
from hmi.sim.plant import Value
from hmi.sim.server import Simulator


class SimulatorActor(Actor):
    """Owns a :class:`Simulator`: starts it in ``setup``, advances it in ``run``."""

    name = "sim"

    def __init__(self, simulator: Simulator, name: str | None = None, tick: float = 0.1) -> None:
        super().__init__(name)
        self.simulator = simulator
        self.tick = tick

    async def setup(self) -> None:
        """Start serving Modbus (the port is known once this returns)."""
        await self.simulator.start()

    async def run(self) -> None:
        """Advance the plants on the simulator's clock until the actor stops."""
        await self.simulator.run(self.tick)

    async def teardown(self) -> None:
        """Stop serving and close every connection."""
        await self.simulator.stop()

    @expose
    def inject(
        self, kind: str, duration: float | None = None, unit: int | None = None, **options: Any
    ) -> list[str]:
        """Inject fault ``kind`` (see ``hmi sim --help``); returns that unit's active faults."""
        faults = self.simulator.faults(unit)
        faults.inject(kind, duration, **options)  # reported by the faults themselves
        return faults.active

    @expose
    def clear(
        self, kind: str | None = None, sensor: str | None = None, unit: int | None = None
    ) -> list[str]:
        """Clear one kind of fault, or every fault; returns that unit's active faults."""
        faults = self.simulator.faults(unit)
        faults.clear(kind, sensor)
        return faults.active

    @expose
    def faults(self) -> dict[int, list[str]]:
        """The active faults of every unit."""
        return {unit.unit_id: unit.faults.active for unit in self.simulator}

    @expose
    def read(self, name: str, unit: int | None = None) -> Value:
        """The true value of a plant signal (what the process does, not what a master sees)."""
        return self.simulator.unit(unit).plant.read(name)

    @expose
    def address(self) -> list[Any]:
        """``[host, port]`` the simulator serves on."""
        return [self.simulator.host, self.simulator.port]
