"""Fault injection for one simulated plant: the Python API and what the faults do to values.

Every fault is reported (logger ``hmi.sim.faults``, INFO) when it fires and when it ends,
whichever way it came in: the Python API, ``inject`` (scenarios, ``--fault``, RPC) or the
control registers.

Communication faults (comm loss, slow answers, exception codes) are applied by the Modbus
server; instrument faults (frozen or noisy sensor, alarm flood) change the values a master
reads while the PLC keeps using the true ones; process faults (stuck valve, pump trip) act on
the model. Durations are in simulated seconds; ``None`` means until cleared.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hmi.sim.plant import MEASUREMENTS, STATES, Plant, Value

log = logging.getLogger(__name__)

#: sensors that can be frozen or made noisy, in the bit order of the control registers
SENSORS = tuple(MEASUREMENTS)

#: what an alarm flood shows: every analog value beyond its alarm limit, every switch on
FLOOD_VALUES: dict[str, Value] = {
    "level": 4.9,
    "temperature": 95.0,
    "inflow": 24.0,
    "outflow": 24.0,
    "level_ll": True,
    "level_hh": True,
    "pump_tripped": True,
    "heater_interlock": True,
    "valve_deviation": True,
}


class Fault(StrEnum):
    """The kinds of fault, as named in scenarios and on the command line."""

    COMM_LOSS = "comm_loss"
    SLOW = "slow"
    EXCEPTION = "exception"
    FREEZE = "freeze"
    NOISE = "noise"
    STUCK_VALVE = "stuck_valve"
    PUMP_TRIP = "pump_trip"
    ALARM_FLOOD = "alarm_flood"


#: the Modbus exception codes a plant can be told to answer with
EXCEPTION_CODES = (1, 2, 3, 4, 5, 6, 10, 11)

#: the options of each kind of fault (keywords of :meth:`PlantFaults.inject`) and their
#: defaults; the first is the one ``hmi sim --fault KIND:ARG`` sets
FAULT_OPTIONS: dict[Fault, dict[str, str | float]] = {
    Fault.SLOW: {"delay": 1.0},
    Fault.EXCEPTION: {"code": 4},
    Fault.FREEZE: {"sensor": "level"},
    Fault.NOISE: {"sensor": "level", "amplitude": 0.02},
}


# -- the rules: every way a fault comes in (API, inject, --fault, scenarios, registers) ----------
def fault_kind(kind: Fault | str) -> Fault:
    """``kind`` as a :class:`Fault`; ValueError listing the kinds when it is none of them."""
    try:
        return Fault(kind)
    except ValueError:
        kinds = ", ".join(Fault)
        raise ValueError(f"unknown fault kind {kind!r} (kinds: {kinds})") from None


def check_sensor(sensor: object) -> str:
    """``sensor`` when a sensor can be frozen or made noisy, else ValueError."""
    if not isinstance(sensor, str) or sensor not in SENSORS:
        raise ValueError(f"unknown sensor {sensor!r} (sensors: {', '.join(SENSORS)})")
    return sensor


def check_exception_code(code: object) -> int:
    """``code`` (an int or its text) when a plant can answer with it, else ValueError."""
    number = _integer(code, "exception code")
    if number not in EXCEPTION_CODES:
        codes = ", ".join(map(str, EXCEPTION_CODES))
        raise ValueError(f"exception code must be one of {codes}, not {number}")
    return number


def check_delay(delay: object) -> float:
    """A slow fault's delay in seconds (a number or its text, 0 or more), else ValueError."""
    return _not_negative(delay, "delay")


def check_amplitude(amplitude: object) -> float:
    """A noise amplitude, a fraction of span (a number or its text, 0 or more)."""
    return _not_negative(amplitude, "amplitude")


def check_duration(duration: object) -> float | None:
    """A fault's duration in seconds (0 or more), or None (until cleared)."""
    return None if duration is None else _not_negative(duration, "duration")


#: the rule of each option of :data:`FAULT_OPTIONS`
_OPTION_RULES = {
    "delay": check_delay,
    "code": check_exception_code,
    "sensor": check_sensor,
    "amplitude": check_amplitude,
}


def check_option(name: str, value: object) -> Any:
    """Option ``name`` of a fault (``sensor``, ``code``, ...) checked and typed."""
    return _OPTION_RULES[name](value)


def fault_arguments(
    kind: Fault | str, duration: object = None, **options: object
) -> tuple[Fault, float | None, dict[str, Any]]:
    """What :meth:`PlantFaults.inject` applies: the kind, the duration and every option of
    the kind (defaults filled in), checked and typed; ValueError says what is wrong. Options
    the kind does not take are left out."""
    fault = fault_kind(kind)
    checked = {
        name: check_option(name, options.get(name, default))
        for name, default in FAULT_OPTIONS.get(fault, {}).items()
    }
    return fault, check_duration(duration), checked


def _number(value: object, what: str) -> float:
    """A finite number from a number or its text (``--fault slow:0.5``, RPC, YAML)."""
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an int with hundreds of digits
            number = math.inf
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
            raise ValueError(f"{what} must be a finite number, not {value!r}")
    raise ValueError(f"{what} must be a number, not {value!r}")


def _not_negative(value: object, what: str) -> float:
    number = _number(value, what)
    if number < 0:
        raise ValueError(f"{what} must be 0 or more, not {number:g}")
    return number


def _integer(value: object, what: str) -> int:
    """An int from an int or its text (not a bool, not 4.5)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise ValueError(f"{what} must be an integer, not {value!r}")


@dataclass
class PlantFaults:
    """Faults of one plant. Every method takes effect at once and is safe to call any time.

    ``seed`` makes the noise reproducible.
    """

    plant: Plant
    seed: int = 0
    #: who the faults belong to in the lines reporting them ("unit 1")
    name: str = ""
    comm_loss_active: bool = False
    delay: float = 0.0  # seconds of wall time before each answer
    exception_code: int = 0
    frozen: dict[str, float | None] = field(default_factory=dict)
    noisy: dict[str, float] = field(default_factory=dict)  # sensor -> amplitude (of span)
    flood: bool = False
    _expiry: dict[tuple[Fault, str], float] = field(default_factory=dict)
    _rng: random.Random = field(init=False)
    #: a pump trip injected and not reset yet (its end is reported when the reset comes)
    _trip_pending: bool = False

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # -- the API ------------------------------------------------------------------------------
    def comm_loss(self, duration: float | None = None) -> None:
        """Stop answering any request (the client times out)."""
        self.comm_loss_active = True
        self._expire_in(Fault.COMM_LOSS, "", duration)

    def slow(self, delay: float, duration: float | None = None) -> None:
        """Answer every request after ``delay`` seconds of wall time (0 = normal)."""
        delay = check_delay(delay)
        self.delay = delay
        self._expire_in(Fault.SLOW, "", duration, f"{delay:g} s")

    def exception(self, code: int = 4, duration: float | None = None) -> None:
        """Answer every request (except to the control block) with Modbus exception ``code``."""
        code = 0 if code == 0 else check_exception_code(code)
        self.exception_code = code
        self._expire_in(Fault.EXCEPTION, "", duration, str(code))

    def freeze(self, sensor: str, duration: float | None = None) -> None:
        """Hold ``sensor`` at the value it shows now."""
        check_sensor(sensor)
        self.frozen.setdefault(sensor, None)  # captured by the next :meth:`publish`
        self._expire_in(Fault.FREEZE, sensor, duration)

    def noise(self, sensor: str, amplitude: float = 0.02, duration: float | None = None) -> None:
        """Add uniform noise of +-``amplitude`` times the sensor's span."""
        check_sensor(sensor)
        amplitude = check_amplitude(amplitude)
        self.noisy[sensor] = amplitude
        self._expire_in(Fault.NOISE, sensor, duration, f"{amplitude:.1%} of span")

    def stick_valve(self, duration: float | None = None) -> None:
        """FV-101's actuator stops moving where it is."""
        self.plant.process.valve_stuck = True
        self._expire_in(Fault.STUCK_VALVE, "", duration)

    def trip_pump(self, duration: float | None = None) -> None:
        """Trip P-101 as its motor protection would: latched until the operator's reset
        (a ``duration`` does not apply; it is only mentioned in the report)."""
        self.plant.plc.trip_pump()
        self._trip_pending = True
        ignored = f"; a duration ({duration:g} s) does not apply" if duration else ""
        self._report(
            f"fault pump_trip fired at t={self.plant.time:.1f} s: P-101 tripped, latched "
            f"until the operator resets it (reset coil){ignored}"
        )

    def alarm_flood(self, duration: float | None = None) -> None:
        """Show every analog value beyond its alarm limits and every switch on."""
        self.flood = True
        self._expire_in(Fault.ALARM_FLOOD, "", duration)

    def inject(self, kind: Fault | str, duration: float | None = None, **options: object) -> None:
        """Inject a fault by name (scenarios, the command line and RPC use this); every
        argument is checked (:func:`fault_arguments`) before anything changes."""
        kind, duration, checked = fault_arguments(kind, duration, **options)
        if kind is Fault.COMM_LOSS:
            self.comm_loss(duration)
        elif kind is Fault.SLOW:
            self.slow(checked["delay"], duration)
        elif kind is Fault.EXCEPTION:
            self.exception(checked["code"], duration)
        elif kind is Fault.FREEZE:
            self.freeze(checked["sensor"], duration)
        elif kind is Fault.NOISE:
            self.noise(checked["sensor"], checked["amplitude"], duration)
        elif kind is Fault.STUCK_VALVE:
            self.stick_valve(duration)
        elif kind is Fault.PUMP_TRIP:
            self.trip_pump(duration)
        else:
            self.alarm_flood(duration)

    def clear(self, kind: Fault | str | None = None, sensor: str | None = None) -> None:
        """Clear one kind of fault (for one sensor, or all), or every fault."""
        kinds = list(Fault) if kind is None else [fault_kind(kind)]
        before = set(self.active)
        for k in kinds:
            self._clear(k, sensor)
            for key in [key for key in self._expiry if key[0] is k]:
                if sensor is None or key[1] == sensor:
                    del self._expiry[key]
        for name in sorted(before - set(self.active)):
            self._report(f"fault {name} ended at t={self.plant.time:.1f} s: cleared")

    @property
    def active(self) -> list[str]:
        """Human-readable list of the active faults."""
        names = []
        if self.comm_loss_active:
            names.append("comm_loss")
        if self.delay:
            names.append(f"slow({self.delay:g} s)")
        if self.exception_code:
            names.append(f"exception({self.exception_code})")
        names += [f"freeze({s})" for s in self.frozen]
        names += [f"noise({s})" for s in self.noisy]
        if self.plant.process.valve_stuck:
            names.append("stuck_valve")
        if self.flood:
            names.append("alarm_flood")
        return names

    # -- used by the simulator ----------------------------------------------------------------
    def expire(self) -> None:
        """Clear the timed faults whose time is up (call after advancing the plant)."""
        now = self.plant.time
        for (kind, sensor), until in list(self._expiry.items()):
            if now >= until - 1e-9:
                del self._expiry[(kind, sensor)]
                self._clear(kind, sensor or None)
                what = f"{kind.value}({sensor})" if sensor else kind.value
                self._report(f"fault {what} ended at t={until:.1f} s: its time is over")
        if self._trip_pending and not self.plant.read("pump_tripped"):
            self._trip_pending = False
            self._report(f"fault pump_trip ended at t={now:.1f} s: P-101 was reset")

    def remaining(self, kind: Fault, sensor: str = "") -> float | None:
        """Seconds left of a timed fault (None when not timed)."""
        until = self._expiry.get((kind, sensor))
        return None if until is None else max(until - self.plant.time, 0.0)

    def publish(self) -> dict[str, Value]:
        """The signals as a Modbus master sees them, with the instrument faults applied."""
        values = self.plant.signals()
        for sensor, held in self.frozen.items():
            if held is None:
                self.frozen[sensor] = float(values[sensor])
            else:
                values[sensor] = held
        for sensor, amplitude in self.noisy.items():
            low, high = MEASUREMENTS[sensor]
            values[sensor] = float(values[sensor]) + self._rng.uniform(-1, 1) * amplitude * (
                high - low
            )
        if self.flood:
            values.update(FLOOD_VALUES)
        return values

    # -- internals ----------------------------------------------------------------------------
    def _report(self, text: str) -> None:
        log.info("%s%s", f"{self.name}: " if self.name else "", text)

    def _expire_in(
        self, kind: Fault, sensor: str, duration: float | None, detail: str = ""
    ) -> None:
        """Arm the fault's end, and report that it fired (every way in comes here)."""
        duration = check_duration(duration)
        if duration is None:
            self._expiry.pop((kind, sensor), None)
        else:
            self._expiry[(kind, sensor)] = self.plant.time + duration
        what = ", ".join(filter(None, (sensor, detail)))
        what = f"{kind.value}({what})" if what else kind.value
        until = "until cleared" if duration is None else f"for {duration:g} s"
        self._report(f"fault {what} fired at t={self.plant.time:.1f} s, {until}")

    def _clear(self, kind: Fault, sensor: str | None) -> None:
        if kind is Fault.COMM_LOSS:
            self.comm_loss_active = False
        elif kind is Fault.SLOW:
            self.delay = 0.0
        elif kind is Fault.EXCEPTION:
            self.exception_code = 0
        elif kind is Fault.FREEZE:
            _drop(self.frozen, sensor)
        elif kind is Fault.NOISE:
            _drop(self.noisy, sensor)
        elif kind is Fault.STUCK_VALVE:
            self.plant.process.valve_stuck = False
        elif kind is Fault.ALARM_FLOOD:
            self.flood = False
        # a pump trip is cleared by the operator's reset, like on a real plant


def _drop(faults: dict[str, float] | dict[str, float | None], sensor: str | None) -> None:
    if sensor is None:
        faults.clear()
    else:
        faults.pop(sensor, None)


__all__ = [
    "EXCEPTION_CODES",
    "FAULT_OPTIONS",
    "FLOOD_VALUES",
    "SENSORS",
    "STATES",
    "Fault",
    "PlantFaults",
    "check_amplitude",
    "check_delay",
    "check_duration",
    "check_exception_code",
    "check_option",
    "check_sensor",
    "fault_arguments",
    "fault_kind",
]
