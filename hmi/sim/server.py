"""The simulator: N plants served over Modbus/TCP by pymodbus, stepped on a clock.

:class:`Simulator` is the Python API: ``async with Simulator(port=0) as sim:`` serves on a
free port of 127.0.0.1; ``sim.advance(dt)`` steps every plant (tests drive time this way),
``await sim.run()`` steps them on the clock until cancelled (the ``hmi sim`` command).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusBaseDeviceContext, ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

from hmi.bus.local.clock import Clock, RealClock
from hmi.core.address import Table
from hmi.sim.faults import PlantFaults
from hmi.sim.unit import SimUnit

log = logging.getLogger(__name__)

#: Modbus function code -> the table it reads or writes
_TABLES = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE_INPUT,
    3: Table.HOLDING_REGISTER,
    6: Table.HOLDING_REGISTER,
    16: Table.HOLDING_REGISTER,
    22: Table.HOLDING_REGISTER,
    23: Table.HOLDING_REGISTER,
    4: Table.INPUT_REGISTER,
}


class _UnitContext(ModbusBaseDeviceContext):
    """pymodbus' view of one unit: applies the slow and exception-code faults."""

    def __init__(self, unit: SimUnit) -> None:
        self.unit = unit

    async def _admit(self, table: Table, address: int, count: int) -> int:
        delay = self.unit.faults.delay
        if delay > 0:
            # Wall time on purpose: a master's timeout is wall time, whatever the speed.
            await asyncio.sleep(delay)
        return self.unit.refuses(table, address, count)

    async def async_getValues(
        self, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        table = _TABLES.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        code = await self._admit(table, address, count)
        if code:
            return ExcCodes(code)
        values = self.unit.read(table, address, count)
        if values is None:
            return ExcCodes.ILLEGAL_ADDRESS
        return [bool(v) for v in values] if table.is_bits else values

    async def async_setValues(
        self, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        table = _TABLES.get(func_code)
        if table is None or not table.writable:
            return ExcCodes.ILLEGAL_FUNCTION
        code = await self._admit(table, address, len(values))
        if code:
            return ExcCodes(code)
        code = self.unit.write(table, address, [int(v) for v in values])
        return ExcCodes(code) if code else None


class _ServerContext(ModbusServerContext):
    """Units by id; a unit under comm loss looks absent, and pymodbus then stays silent."""

    def __init__(self, units: dict[int, SimUnit]) -> None:
        contexts = {uid: _UnitContext(u) for uid, u in units.items()}
        super().__init__(devices=contexts, single=False)  # type: ignore[no-untyped-call]
        self.units = units

    def __getitem__(self, device_id: int) -> Any:
        unit = self.units.get(device_id)
        if unit is None or unit.faults.comm_loss_active:
            raise NoSuchIdException(f"unit {device_id} does not answer")  # type: ignore[no-untyped-call]
        return super().__getitem__(device_id)  # type: ignore[no-untyped-call]


class Simulator:
    """N independent plants on one Modbus/TCP port, unit ids ``first_unit ..``.

    ``port=0`` picks a free port (read :attr:`port` after :meth:`start`). ``clock`` drives
    :meth:`run`; without :meth:`run`, time only moves through :meth:`advance`.
    """

    def __init__(
        self,
        devices: int = 1,
        *,
        host: str = "127.0.0.1",
        port: int = 5020,
        clock: Clock | None = None,
        first_unit: int = 1,
        seed: int = 0,
    ) -> None:
        if not 1 <= devices <= 247 or not 1 <= first_unit <= 248 - devices:
            raise ValueError("unit ids must stay within 1..247")
        self.host = host
        self.port = port
        self.clock: Clock = clock or RealClock()
        self.units = {
            uid: SimUnit(uid, seed=seed + uid) for uid in range(first_unit, first_unit + devices)
        }
        self._server: ModbusTcpServer | None = None

    # -- the plants -------------------------------------------------------------------------
    def unit(self, unit_id: int | None = None) -> SimUnit:
        """One unit (the first when ``unit_id`` is None)."""
        return self.units[unit_id if unit_id is not None else next(iter(self.units))]

    def faults(self, unit_id: int | None = None) -> PlantFaults:
        """The fault API of one unit (the first when ``unit_id`` is None)."""
        return self.unit(unit_id).faults

    def __iter__(self) -> Iterator[SimUnit]:
        return iter(self.units.values())

    @property
    def time(self) -> float:
        """Simulated seconds since start."""
        return self.unit().plant.time

    def advance(self, dt: float) -> None:
        """Step every plant ``dt`` simulated seconds and refresh the registers."""
        for unit in self.units.values():
            unit.advance(dt)

    # -- serving ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on ``host:port`` (returns once the socket is bound)."""
        if self._server is not None:
            raise RuntimeError("the simulator is already serving")
        server = ModbusTcpServer(
            _ServerContext(self.units),
            address=(self.host, self.port),
            ignore_missing_devices=True,
        )
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None) or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("simulated plant: %d unit(s) on %s:%d", len(self.units), self.host, self.port)

    async def stop(self) -> None:
        """Stop serving and close every connection."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]

    async def run(self, tick: float = 0.1) -> None:
        """Advance the plants on :attr:`clock` every ``tick`` clock seconds until cancelled."""
        last = self.clock.monotonic()
        while True:
            await self.clock.sleep(tick)
            now = self.clock.monotonic()
            self.advance(now - last)
            last = now

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
