"""The one place pymodbus is used: a connection to a Modbus TCP device or an RTU line.

pymodbus' API changes between minor versions (``slave=`` became ``device_id=`` in 3.10),
so everything version-specific is here, behind :class:`ModbusLink`. Errors come out as
our own exceptions: :class:`DeviceException` (the device answered with an exception
code), :class:`CommError` (no answer, garbage, connection lost) and
:class:`NotConnected`.

pymodbus' own reconnect is disabled (``reconnect_delay=0``): the driver reconnects with
its own capped, jittered backoff and knows at every moment whether the link is up. On an
RTU line pymodbus must not close the port after a few unanswered requests either (its
default for TCP): there, silence is one dead unit, and the others on the line still
answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from hmi.core.address import Table
from hmi.project.model import DeviceConfig

log = logging.getLogger(__name__)

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


class LinkError(Exception):
    """Any failure of a request."""


class CommError(LinkError):
    """No valid answer: timeout, garbage, a wrong transaction id, the connection lost."""


class NotConnected(CommError):
    """The link is down; the driver reconnects on its own schedule."""


class DeviceException(LinkError):
    """The device answered with a Modbus exception code."""

    def __init__(self, code: int, request: str) -> None:
        self.code = code
        name = EXCEPTION_NAMES.get(code, "unknown exception")
        super().__init__(f"exception {code} ({name}) for {request}")


class ModbusLink:
    """An asyncio connection to one TCP device or one RTU line (several unit ids).

    ``serial_port`` of an RTU device may be ``tcp://host:port``: RTU frames over a TCP
    socket, as transparent serial-to-Ethernet converters carry them.
    """

    def __init__(self, device: DeviceConfig) -> None:
        self.device = device
        self.name = device.name
        client: AsyncModbusTcpClient | AsyncModbusSerialClient
        timeout, retries = device.timeout, device.retries
        if device.protocol == "modbus-tcp":
            client = AsyncModbusTcpClient(
                device.host, port=device.port, timeout=timeout, retries=retries, reconnect_delay=0
            )
        elif device.serial_port.startswith("tcp://"):
            host, _, port = device.serial_port[6:].rpartition(":")
            client = AsyncModbusTcpClient(
                host,
                port=int(port),
                framer=FramerType.RTU,
                timeout=timeout,
                retries=retries,
                reconnect_delay=0,
            )
        else:
            client = AsyncModbusSerialClient(
                device.serial_port,
                framer=FramerType.RTU,
                baudrate=device.baudrate,
                parity=device.parity,
                stopbits=device.stop_bits,
                timeout=timeout,
                retries=retries,
                reconnect_delay=0,
            )
        if device.protocol == "modbus-rtu":
            client.set_max_no_responses(_NEVER)
        self._client = client
        #: per table: the pymodbus read method, and whether it answers bits
        self._readers: dict[Table, tuple[Callable[..., Awaitable[ModbusPDU]], bool]] = {
            Table.HOLDING_REGISTER: (client.read_holding_registers, False),
            Table.INPUT_REGISTER: (client.read_input_registers, False),
            Table.COIL: (client.read_coils, True),
            Table.DISCRETE_INPUT: (client.read_discrete_inputs, True),
        }

    @property
    def connected(self) -> bool:
        """True while the transport is up."""
        return bool(self._client.connected)

    async def connect(self) -> None:
        """Open the connection; raise :class:`NotConnected` if it fails."""
        try:
            ok = await self._client.connect()
        except (OSError, ModbusException, RuntimeError) as exc:
            raise NotConnected(f"cannot connect: {exc}") from None
        if not ok:
            raise NotConnected(f"cannot connect to {self._where()}")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._client.close()

    def _where(self) -> str:
        device = self.device
        if device.protocol == "modbus-tcp":
            return f"{device.host}:{device.port}"
        return device.serial_port

    async def read(self, unit: int, table: Table, start: int, count: int) -> list[int] | list[bool]:
        """Read ``count`` registers (or bits) of ``table`` from ``start``.

        The hot path of polling: one lookup and one await on top of pymodbus; the
        request's description is formatted only when it fails.
        """
        method, bits = self._readers[table]
        try:
            response = await method(start, count=count, device_id=unit)
        except ConnectionException:
            # pymodbus raises this at once when the transport is down (it would not
            # wait for an answer); we reconnect on our own schedule.
            raise NotConnected(f"not connected to {self._where()}") from None
        except ModbusException as exc:
            _reraise_cancel()
            what = _what(table, start, count)
            raise CommError(_short(str(exc)) or f"no valid answer to {what}") from None
        except _DECODE_ERRORS as exc:
            raise CommError(f"malformed answer to {_what(table, start, count)}: {exc!r}") from None
        if response.isError():
            raise DeviceException(response.exception_code, _what(table, start, count))
        return response.bits if bits else response.registers

    async def write_coil(self, unit: int, address: int, state: bool) -> None:
        """FC 5."""
        await self._execute(f"write co:{address}", self._client.write_coil, address, state, unit)

    async def write_coils(self, unit: int, address: int, states: Sequence[bool]) -> None:
        """FC 15."""
        what = f"write co:{address}+{len(states)}"
        await self._execute(what, self._client.write_coils, address, list(states), unit)

    async def write_register(self, unit: int, address: int, value: int) -> None:
        """FC 6."""
        what = f"write hr:{address}"
        await self._execute(what, self._client.write_register, address, value, unit)

    async def write_registers(self, unit: int, address: int, values: Sequence[int]) -> None:
        """FC 16."""
        what = f"write hr:{address}+{len(values)}"
        await self._execute(what, self._client.write_registers, address, list(values), unit)

    async def _execute(
        self,
        what: str,
        method: Callable[..., Awaitable[ModbusPDU]],
        address: int,
        value: Any,
        unit: int,
    ) -> ModbusPDU:
        try:
            response = await method(address, value, device_id=unit)
        except ConnectionException:
            raise NotConnected(f"not connected to {self._where()}") from None
        except ModbusException as exc:
            _reraise_cancel()
            raise CommError(_short(str(exc)) or f"no valid answer to {what}") from None
        except _DECODE_ERRORS as exc:
            raise CommError(f"malformed answer to {what}: {exc!r}") from None
        if response is None:
            raise CommError(f"no answer to {what}")
        if response.isError():
            raise DeviceException(int(getattr(response, "exception_code", 0)), what)
        return response


#: unanswered requests in a row after which pymodbus would close an RTU line: never
_NEVER = 2**31

#: pymodbus' decoders raise plain Python errors on malformed frames
_DECODE_ERRORS = (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError)


def _what(table: Table, start: int, count: int) -> str:
    # formatted only when a request fails, not for every request
    return f"{table.value}:{start}+{count}"


def _reraise_cancel() -> None:
    # pymodbus turns the cancellation of a pending request into ModbusIOException
    # ("Request cancelled outside pymodbus"); a stopping driver must still stop.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _short(text: str) -> str:
    # pymodbus prefixes its messages with "Modbus Error: [Input/Output] ".
    return text.rsplit("] ", 1)[-1].strip()
