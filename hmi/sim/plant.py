"""One simulated plant: the process, its PLC and named signals for the register map.

:class:`Plant` is pure and deterministic: :meth:`Plant.advance` splits any ``dt`` into
steps of at most :data:`MAX_STEP` seconds. Signals are the names the register map, the
scenarios and the tests use (``level``, ``valve_command``, ``pump_run`` ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hmi.sim.model import Process, ProcessParams
from hmi.sim.plc import Plc, PlcCommands

#: the largest integration step (s): the fastest dynamics (valve, heater) are ~10 s
MAX_STEP = 0.1

Value = float | bool

#: measured values (read-only), with their engineering span for noise and scaling
MEASUREMENTS: dict[str, tuple[float, float]] = {
    "level": (0.0, 5.0),
    "valve_position": (0.0, 100.0),
    "inflow": (0.0, 25.0),
    "outflow": (0.0, 25.0),
    "temperature": (0.0, 100.0),
    "heater_power": (0.0, 100.0),
    "lic_output": (0.0, 100.0),
}
#: boolean states (read-only)
STATES = (
    "pump_running",
    "pump_tripped",
    "heater_on",
    "level_ll",
    "level_hh",
    "heater_interlock",
    "inlet_interlock",
    "valve_deviation",
)
#: what a master may write: the fields of :class:`PlcCommands`
COMMANDS = tuple(PlcCommands.__dataclass_fields__)


@dataclass(slots=True)
class Plant:
    """Process + PLC, advanced in sim time; ``time`` counts the simulated seconds."""

    process: Process = field(default_factory=Process)
    plc: Plc = field(default_factory=Plc)
    time: float = 0.0
    steps: int = 0

    @classmethod
    def create(cls, params: ProcessParams | None = None, level: float = 2.5) -> Plant:
        """A plant at rest with the tank at ``level`` metres, at ambient temperature."""
        params = params or ProcessParams()
        process = Process(params=params, volume=level * params.tank_area)
        process.temperature = params.ambient_temperature
        return cls(process=process, plc=Plc(heater_max_kw=params.heater_max_kw))

    def advance(self, dt: float) -> None:
        """Run PLC and process for ``dt`` seconds in steps of at most :data:`MAX_STEP`."""
        remaining = dt
        while remaining > 1e-12:
            h = min(MAX_STEP, remaining)
            inputs = self.plc.scan(h, self.process.level, self.process.valve_position)
            self.process.step(h, inputs)
            remaining -= h
            self.time += h
            self.steps += 1

    # -- signals ------------------------------------------------------------------------------
    def read(self, name: str) -> Value:
        """The current value of a measurement, state or command signal."""
        getter = _GETTERS.get(name)
        if getter is not None:
            return getter(self)
        if name in COMMANDS:
            value: Value = getattr(self.plc.commands, name)
            return value
        raise KeyError(f"unknown signal {name!r}")

    def write(self, name: str, value: Value) -> None:
        """Set a command signal (what a Modbus master or a scenario writes)."""
        if name not in COMMANDS:
            raise KeyError(f"{name!r} is not a command signal (commands: {', '.join(COMMANDS)})")
        current = getattr(self.plc.commands, name)
        setattr(self.plc.commands, name, bool(value) if isinstance(current, bool) else float(value))

    def signals(self) -> dict[str, Value]:
        """Every signal with its current value."""
        return {name: self.read(name) for name in (*MEASUREMENTS, *STATES, *COMMANDS)}


_GETTERS: dict[str, Callable[[Plant], Value]] = {
    "level": lambda p: p.process.level,
    "valve_position": lambda p: p.process.valve_position,
    "inflow": lambda p: p.process.inflow,
    "outflow": lambda p: p.process.outflow,
    "temperature": lambda p: p.process.temperature,
    "heater_power": lambda p: p.process.heater_power,
    "lic_output": lambda p: p.plc.output,
    "pump_running": lambda p: p.process.pump_running,
    "pump_tripped": lambda p: p.plc.pump_tripped,
    "heater_on": lambda p: p.plc.heater_on,
    "level_ll": lambda p: p.plc.level_ll,
    "level_hh": lambda p: p.plc.level_hh,
    "heater_interlock": lambda p: p.plc.heater_interlock,
    "inlet_interlock": lambda p: p.plc.inlet_interlock,
    "valve_deviation": lambda p: p.plc.valve_deviation,
}
