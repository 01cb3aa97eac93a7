"""Shared helpers: a pymodbus client on the ``plant`` fixture (from hmi.testing)."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from pymodbus.client import ModbusTcpClient

from hmi.testing import RunningPlant


class Master:
    """A small synchronous Modbus master for tests (a pymodbus client)."""

    def __init__(self, plant: RunningPlant, timeout: float = 1.0) -> None:
        self.client = ModbusTcpClient(plant.host, port=plant.port, timeout=timeout, retries=0)
        assert self.client.connect()
        self.unit = 1

    def float(self, table: str, offset: int) -> float:
        regs = self.regs(table, offset, 2)
        value: float = struct.unpack(">f", struct.pack(">HH", *regs))[0]
        return value

    def regs(self, table: str, offset: int, count: int = 1) -> list[int]:
        read = (
            self.client.read_input_registers
            if table == "ir"
            else self.client.read_holding_registers
        )
        response = read(offset, count=count, device_id=self.unit)
        assert not response.isError(), response
        return list(response.registers)

    def bits(self, table: str, offset: int, count: int = 1) -> list[bool]:
        read = self.client.read_coils if table == "co" else self.client.read_discrete_inputs
        response = read(offset, count=count, device_id=self.unit)
        assert not response.isError(), response
        return list(response.bits[:count])

    def write_float(self, offset: int, value: float) -> None:
        words = list(struct.unpack(">HH", struct.pack(">f", value)))
        response = self.client.write_registers(offset, words, device_id=self.unit)
        assert not response.isError(), response

    def write_reg(self, offset: int, value: int) -> None:
        response = self.client.write_register(offset, value, device_id=self.unit)
        assert not response.isError(), response

    def write_coil(self, offset: int, value: bool) -> None:
        response = self.client.write_coil(offset, value, device_id=self.unit)
        assert not response.isError(), response


@pytest.fixture
def master(plant: RunningPlant) -> Iterator[Master]:
    """A Modbus master connected to the plant, unit 1."""
    m = Master(plant)
    yield m
    m.client.close()
