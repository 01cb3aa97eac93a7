"""Faults at runtime over the bus: RPC to the simulator actor, seen from a Modbus master."""

from __future__ import annotations

import asyncio
import struct

import pytest
from pymodbus.client import AsyncModbusTcpClient

from hmi.bus import Bus, RemoteError, Supervisor, VirtualClock
from hmi.sim.actor import SimulatorActor
from hmi.sim.server import Simulator


async def read_level(client: AsyncModbusTcpClient) -> float:
    response = await client.read_input_registers(0, count=2, device_id=1)
    assert not response.isError(), response
    value: float = struct.unpack(">f", struct.pack(">HH", *response.registers))[0]
    return value


def test_faults_injected_over_rpc_reach_the_modbus_master():
    async def main() -> None:
        bus = Bus.local(clock=VirtualClock())
        sup = Supervisor(bus)
        sim = Simulator(port=0, clock=bus.clock)
        await sup.start(SimulatorActor(sim))
        client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=1, retries=0)
        try:
            assert await client.connect()
            host, port = await bus.call("sim", "address")
            assert (host, port) == ("127.0.0.1", sim.port)
            assert await bus.call("sim", "inject", "freeze", sensor="level") == ["freeze(level)"]
            await bus.call("sim", "inject", "noise", duration=5.0, sensor="temperature")
            frozen = await read_level(client)
            sim.unit().plant.write("valve_command", 100.0)
            sim.advance(60.0)
            assert await bus.call("sim", "read", "level") > frozen + 0.01
            assert await read_level(client) == pytest.approx(frozen)
            assert await bus.call("sim", "faults") == {1: ["freeze(level)"]}  # noise expired
            assert await bus.call("sim", "clear") == []
            sim.advance(0.1)
            assert await read_level(client) > frozen + 0.01
            with pytest.raises(RemoteError, match="ValueError"):
                await bus.call("sim", "inject", "meteor_strike")
        finally:
            client.close()
            await sup.stop()
            await bus.close()

    asyncio.run(main())
