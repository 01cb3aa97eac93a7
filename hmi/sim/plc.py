"""The PLC part of the demo plant: level controller LIC-101 and the interlocks.

Pure: :meth:`Plc.scan` takes the measured values and ``dt`` and returns what drives the
process. Operator commands (what a Modbus master writes) live in :class:`PlcCommands`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hmi.sim.model import ProcessInputs

#: level switch and interlock thresholds (m); the demo project's alarm limits match them
LEVEL_LOW_LOW = 0.3
LEVEL_HIGH_HIGH = 4.6
HEATER_MIN_LEVEL = 1.0
#: valve deviation: |command - position| above this (%) for longer than the delay (s)
DEVIATION_BAND = 5.0
DEVIATION_DELAY = 30.0  # longer than a full stroke (20 s)


@dataclass(slots=True)
class PlcCommands:
    """What operators and engineers set (over Modbus, or in tests directly)."""

    level_sp: float = 2.5  # m
    valve_command: float = 0.0  # %, manual output; LIC-101 overwrites it in auto
    heater_command: float = 0.0  # % of heater_max
    kp: float = 400.0  # %/m: settles within ~15 min on the 2 m² tank
    ti: float = 200.0  # s, 0 = P only
    outlet_valve: float = 75.0  # % HV-102
    pump_run: bool = False
    pump_reset: bool = False
    heater_enable: bool = False
    lic_auto: bool = False


@dataclass(slots=True)
class Plc:
    """Controller and interlock logic with its internal state (integral, trip latch)."""

    commands: PlcCommands = field(default_factory=PlcCommands)
    heater_max_kw: float = 100.0
    integral: float = 0.0
    output: float = 0.0  # LIC-101 output (%)
    pump_tripped: bool = False
    level_ll: bool = False
    level_hh: bool = False
    heater_interlock: bool = False
    inlet_interlock: bool = False
    valve_deviation: bool = False
    _deviation_time: float = 0.0

    def trip_pump(self) -> None:
        """Trip P-101 (latched; the run command drops, a reset is needed)."""
        self.pump_tripped = True
        self.commands.pump_run = False

    def scan(self, dt: float, level: float, valve_position: float) -> ProcessInputs:
        """One PLC scan over ``dt`` seconds; returns what the process receives."""
        c = self.commands
        self.level_ll = level < LEVEL_LOW_LOW
        self.level_hh = level > LEVEL_HIGH_HIGH
        if self.level_ll and c.pump_run:
            # Dry-run protection trips only a pump that was asked to run.
            self.trip_pump()
        if c.pump_reset:
            if not self.level_ll:
                self.pump_tripped = False
            c.pump_reset = False  # a pulse: the PLC clears it whether or not it worked

        self._control(dt, level)
        self.inlet_interlock = self.level_hh
        valve = 0.0 if self.inlet_interlock else self.output
        self._watch_valve(dt, valve, valve_position)

        self.heater_interlock = level < HEATER_MIN_LEVEL
        heater_on = c.heater_enable and not self.heater_interlock
        demand = self.heater_max_kw * min(max(c.heater_command, 0.0), 100.0) / 100.0
        return ProcessInputs(
            valve_command=valve,
            pump_on=c.pump_run and not self.pump_tripped,
            heater_demand_kw=demand if heater_on else 0.0,
            outlet_valve=c.outlet_valve,
        )

    @property
    def heater_on(self) -> bool:
        """True while the heater contactor is closed."""
        return self.commands.heater_enable and not self.heater_interlock

    def _control(self, dt: float, level: float) -> None:
        c = self.commands
        error = c.level_sp - level
        if not c.lic_auto:
            # Manual: the output follows the operator; the integral tracks it so switching
            # to auto is bumpless.
            self.output = min(max(c.valve_command, 0.0), 100.0)
            self.integral = self.output - c.kp * error
            return
        if c.ti > 0:
            self.integral += c.kp * error * dt / c.ti
        output = c.kp * error + self.integral
        clamped = min(max(output, 0.0), 100.0)
        if clamped != output:
            # Anti-windup: hold the integral where the output just saturates.
            self.integral = clamped - c.kp * error
        self.output = clamped
        c.valve_command = clamped  # the HMI reads back what the controller demands

    def _watch_valve(self, dt: float, command: float, position: float) -> None:
        if abs(command - position) > DEVIATION_BAND:
            self._deviation_time += dt
        else:
            self._deviation_time = 0.0
        self.valve_deviation = self._deviation_time > DEVIATION_DELAY
