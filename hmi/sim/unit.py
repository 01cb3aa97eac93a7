"""One Modbus unit of the simulator: a plant, its faults and its register image.

No sockets here: the server (hmi.sim.server) calls :meth:`SimUnit.read` and
:meth:`SimUnit.write`; tests can call them directly.
"""

from __future__ import annotations

from hmi.core.address import Table
from hmi.sim.faults import SENSORS, Fault, PlantFaults
from hmi.sim.plant import Plant, Value
from hmi.sim.registers import CONTROL_BLOCK, POINTS, TABLE_SIZE, Point, decode, encode

#: exception codes returned by :meth:`SimUnit.write`
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3


class SimUnit:
    """A plant served on one Modbus unit id."""

    def __init__(self, unit_id: int, plant: Plant | None = None, seed: int = 0) -> None:
        self.unit_id = unit_id
        self.plant = plant or Plant.create()
        self.faults = PlantFaults(self.plant, seed=seed, name=f"unit {unit_id}")
        #: amplitude (fraction of span) used when noise is switched on by register
        self.noise_amplitude = 0.02
        self.image: dict[Table, list[int]] = {t: [0] * n for t, n in TABLE_SIZE.items()}
        self.refresh()

    def advance(self, dt: float) -> None:
        """Advance the plant ``dt`` simulated seconds and update the registers."""
        self.plant.advance(dt)
        self.faults.expire()
        self.refresh()

    def values(self) -> dict[str, Value]:
        """Every signal as a master sees it (faults applied), plus the control block."""
        values = self.faults.publish()
        f = self.faults
        remaining = f.remaining(Fault.COMM_LOSS)
        values.update(
            {
                "heartbeat": float(self.plant.steps % 0x10000),
                "uptime": float(int(self.plant.time)),
                "fault.comm_loss": _comm_loss_register(f.comm_loss_active, remaining),
                "fault.delay": f.delay,
                "fault.exception": float(f.exception_code),
                "fault.frozen": float(_mask(f.frozen)),
                "fault.noisy": float(_mask(f.noisy)),
                "fault.noise_amplitude": self.noise_amplitude,
                "fault.stuck_valve": float(self.plant.process.valve_stuck),
                "fault.pump_trip": 0.0,
                "fault.alarm_flood": float(f.flood),
                "fault.clear": 0.0,
            }
        )
        return values

    def refresh(self) -> None:
        """Write every point of the map into the image."""
        values = self.values()
        for point in POINTS:
            self._store(point, encode(point, values[point.signal]))

    # -- what the server calls ----------------------------------------------------------------
    def read(self, table: Table, offset: int, count: int) -> list[int] | None:
        """Registers (or bits) ``offset..offset+count``; None when out of the map's range."""
        data = self.image[table]
        if offset < 0 or count < 1 or offset + count > len(data):
            return None
        # Refresh per request: faults injected through the Python API show at once, and a
        # noisy sensor gives a new reading to every request, as a real one would.
        self.refresh()
        return data[offset : offset + count]

    def refuses(self, table: Table, offset: int, count: int) -> int:
        """The exception code a request gets under the exception fault (0 = none)."""
        code = self.faults.exception_code
        in_control = table is Table.HOLDING_REGISTER and all(
            a in CONTROL_BLOCK for a in range(offset, offset + count)
        )
        return 0 if in_control else code

    def write(self, table: Table, offset: int, values: list[int]) -> int:
        """Store ``values`` and apply the commands they touch; returns an exception code or 0."""
        data = self.image[table]
        if offset < 0 or not values or offset + len(values) > len(data):
            return ILLEGAL_ADDRESS
        data[offset : offset + len(values)] = [int(v) for v in values]
        end = offset + len(values)
        try:
            for point in POINTS:
                a = point.address
                if a.table is table and a.offset < end and offset < a.offset + point.count:
                    value = decode(point, data[a.offset : a.offset + point.count])
                    self._apply(point, value)
        except ValueError:
            self.refresh()
            return ILLEGAL_VALUE
        self.refresh()
        return 0

    # -- internals ----------------------------------------------------------------------------
    def _store(self, point: Point, words: list[int]) -> None:
        a = point.address
        self.image[a.table][a.offset : a.offset + len(words)] = words

    def _apply(self, point: Point, value: Value) -> None:
        name = point.signal
        if not name.startswith("fault."):
            self.plant.write(name, value)
            return
        f, number = self.faults, float(value)
        kind = name.removeprefix("fault.")
        if kind == "comm_loss":
            f.comm_loss(number) if number > 0 else f.clear(Fault.COMM_LOSS)
        elif kind == "delay":
            f.slow(number) if number > 0 else f.clear(Fault.SLOW)
        elif kind == "exception":
            f.exception(int(number)) if number else f.clear(Fault.EXCEPTION)
        elif kind in ("frozen", "noisy"):
            self._apply_mask(kind, int(number))
        elif kind == "noise_amplitude":
            self.noise_amplitude = number
            for sensor in list(f.noisy):
                f.noise(sensor, number)
        elif kind == "stuck_valve":
            f.stick_valve() if number else f.clear(Fault.STUCK_VALVE)
        elif kind == "pump_trip":
            if number:
                f.trip_pump()
        elif kind == "alarm_flood":
            f.alarm_flood() if number else f.clear(Fault.ALARM_FLOOD)
        elif kind == "clear" and number:
            f.clear()

    def _apply_mask(self, kind: str, mask: int) -> None:
        f = self.faults
        active = f.frozen if kind == "frozen" else f.noisy
        for bit, sensor in enumerate(SENSORS):
            wanted = bool(mask & (1 << bit))
            if wanted and sensor not in active:
                f.freeze(sensor) if kind == "frozen" else f.noise(sensor, self.noise_amplitude)
            elif not wanted and sensor in active:
                f.clear(Fault.FREEZE if kind == "frozen" else Fault.NOISE, sensor)


def _comm_loss_register(active: bool, remaining: float | None) -> float:
    # 0xFFFF: until cleared (no master can read it then, but the Python API can)
    if not active:
        return 0.0
    return 0xFFFF if remaining is None else remaining


def _mask(sensors: dict[str, float] | dict[str, float | None]) -> int:
    return sum(1 << SENSORS.index(s) for s in sensors)
