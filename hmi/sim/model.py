"""The process of the demo plant: tank T-101, inlet valve FV-101, pump P-101, heater E-101.

Pure: :meth:`Process.step` integrates the balances over an injected ``dt`` (seconds); nothing
here reads a clock or does I/O. Mass is tracked as volume (constant density) and energy as
the enthalpy of the tank contents relative to 0 °C, so the balances can be checked exactly
against the running totals in :class:`Totals`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: below this volume (m³) the temperature of the contents is not defined by H / (rho cp V)
_MIN_VOLUME = 1e-3


@dataclass(frozen=True, slots=True)
class ProcessParams:
    """Physical constants of the plant (SI units unless the name says otherwise)."""

    tank_area: float = 2.0  # m²
    tank_height: float = 5.0  # m; above it the tank overflows
    inflow_max_m3h: float = 20.0  # FV-101 fully open, constant header pressure
    outflow_max_m3h: float = 12.0  # P-101 running with HV-102 fully open
    valve_travel: float = 20.0  # s for a full 0 -> 100 % stroke
    inlet_temperature: float = 15.0  # °C
    ambient_temperature: float = 20.0  # °C
    heater_max_kw: float = 100.0
    heater_tau: float = 20.0  # s, first-order lag of the heater element
    loss_ua: float = 0.1  # kW/K, heat loss through the tank wall
    density: float = 1000.0  # kg/m³
    heat_capacity: float = 4.186  # kJ/(kg K)

    @property
    def volume_max(self) -> float:
        """Volume of the full tank (m³)."""
        return self.tank_area * self.tank_height

    @property
    def rho_cp(self) -> float:
        """Volumetric heat capacity (kJ/(m³ K))."""
        return self.density * self.heat_capacity


@dataclass(slots=True)
class Totals:
    """Running integrals since start: what went in and out (m³ and kJ)."""

    volume_in: float = 0.0
    volume_out: float = 0.0
    volume_overflow: float = 0.0
    energy_in: float = 0.0  # enthalpy carried in by the inflow
    energy_out: float = 0.0  # carried out by the outflow and the overflow
    energy_heater: float = 0.0
    energy_loss: float = 0.0  # through the wall to ambient
    #: enthalpy dropped when the tank ran (nearly) empty and the temperature was reset
    energy_residual: float = 0.0


@dataclass(slots=True)
class ProcessInputs:
    """What the PLC drives: valve command (%), pump on, heater demand (kW), HV-102 (%)."""

    valve_command: float = 0.0
    pump_on: bool = False
    heater_demand_kw: float = 0.0
    outlet_valve: float = 75.0


@dataclass(slots=True)
class Process:
    """State and dynamics of the process; call :meth:`step` with small ``dt``."""

    params: ProcessParams = field(default_factory=ProcessParams)
    volume: float = 5.0  # m³ (2.5 m in the default tank)
    temperature: float = 20.0  # °C
    valve_position: float = 0.0  # %
    heater_power: float = 0.0  # kW
    pump_running: bool = False
    inflow: float = 0.0  # m³/h, last step
    outflow: float = 0.0  # m³/h, last step
    #: stuck valve fault: the actuator no longer moves
    valve_stuck: bool = False
    totals: Totals = field(default_factory=Totals)

    @property
    def level(self) -> float:
        """Tank level (m)."""
        return self.volume / self.params.tank_area

    @property
    def enthalpy(self) -> float:
        """Enthalpy of the contents relative to 0 °C (kJ)."""
        return self.params.rho_cp * self.volume * self.temperature

    def step(self, dt: float, inputs: ProcessInputs) -> None:
        """Integrate the process over ``dt`` seconds with the PLC's ``inputs``."""
        if dt <= 0:
            return
        p = self.params
        self._move_valve(dt, inputs.valve_command)
        # Heater element: first-order lag towards the demand, solved exactly for any dt.
        demand = min(max(inputs.heater_demand_kw, 0.0), p.heater_max_kw)
        self.heater_power += (demand - self.heater_power) * (1.0 - math.exp(-dt / p.heater_tau))

        self.pump_running = inputs.pump_on
        q_in = p.inflow_max_m3h * self.valve_position / 100.0 / 3600.0  # m³/s
        opening = min(max(inputs.outlet_valve, 0.0), 100.0)
        q_out = p.outflow_max_m3h * opening / 100.0 / 3600.0 if self.pump_running else 0.0
        # The pump cannot take more than the tank holds (it runs dry at zero level).
        q_out = min(q_out, self.volume / dt + q_in)

        old_enthalpy = self.enthalpy
        volume = self.volume + (q_in - q_out) * dt
        overflow = max(volume - p.volume_max, 0.0)
        volume -= overflow

        # Energy balance (explicit in the outgoing temperature, which is the tank's).
        e_in = p.rho_cp * q_in * dt * p.inlet_temperature
        e_out = p.rho_cp * (q_out * dt + overflow) * self.temperature
        e_heat = self.heater_power * dt
        e_loss = p.loss_ua * (self.temperature - p.ambient_temperature) * dt
        enthalpy = old_enthalpy + e_in - e_out + e_heat - e_loss

        if volume > _MIN_VOLUME:
            self.temperature = enthalpy / (p.rho_cp * volume)
        else:
            # An empty tank has no temperature of its own; keep the last one and book the
            # difference so the energy balance still closes.
            self.totals.energy_residual += enthalpy - p.rho_cp * volume * self.temperature
        self.volume = volume
        self.inflow = q_in * 3600.0
        self.outflow = q_out * 3600.0

        t = self.totals
        t.volume_in += q_in * dt
        t.volume_out += q_out * dt
        t.volume_overflow += overflow
        t.energy_in += e_in
        t.energy_out += e_out
        t.energy_heater += e_heat
        t.energy_loss += e_loss

    def _move_valve(self, dt: float, command: float) -> None:
        if self.valve_stuck:
            return
        target = min(max(command, 0.0), 100.0)
        max_move = 100.0 / self.params.valve_travel * dt
        delta = target - self.valve_position
        self.valve_position += max(-max_move, min(max_move, delta))
