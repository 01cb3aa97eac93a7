"""The one place pymodbus is used: a connection to a Modbus TCP device or an RTU line.

pymodbus' API changes between minor versions (``slave=`` became ``device_id=`` in 3.10),
so everything version-specific is here and in :mod:`hmi.drivers.replies`, behind
:class:`ModbusLink`. Errors come out as our own exceptions (:mod:`hmi.drivers.errors`),
each naming the device in plain words: :class:`DeviceException` (the device answered
with an exception code), :class:`CommError` (no answer in time),
:class:`MalformedReply` (an answer that is not the answer to this request) and
:class:`NotConnected`.

Every reply is checked against its request (function code, byte count, a write's echo;
pymodbus checks unit and transaction id): :mod:`hmi.drivers.replies` says what pymodbus
checks and what is added here. A read's check is one compound condition on the hot path.

pymodbus' own reconnect is disabled (``reconnect_delay=0``): the driver reconnects with
its own capped, jittered backoff and knows at every moment whether the link is up. On an
RTU line pymodbus must not close the port after a few unanswered requests either (its
default for TCP): there, silence is one dead unit, and the others on the line still
answer.

pymodbus' log lines name no device and are written per request ("No response received
after 1 retries, continue with next request" at ERROR, which an operator station shows in
its status bar): the driver reports every failure itself (device status, tag quality, one
log line per kind and device per interval: :mod:`hmi.drivers.errlog`), so a link quiets
the ``pymodbus`` logger unless someone set its level on purpose.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from hmi.core.address import Table
from hmi.core.modbus import READ_FUNCTION, FunctionCode
from hmi.drivers.errors import CommError, MalformedReply, NotConnected
from hmi.drivers.replies import FRAME, failure, install, read_fault, write_fault
from hmi.project.model import DeviceConfig

log = logging.getLogger(__name__)


def quiet_pymodbus() -> None:
    """Raise the ``pymodbus`` logger to CRITICAL unless its level was set on purpose."""
    logger = logging.getLogger("pymodbus")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.CRITICAL)


class ModbusLink:
    """An asyncio connection to one TCP device or one RTU line (several unit ids).

    ``serial_port`` of an RTU device may be ``tcp://host:port``: RTU frames over a TCP
    socket, as transparent serial-to-Ethernet converters carry them.
    """

    def __init__(self, device: DeviceConfig) -> None:
        self.device = device
        #: who a failure of the connection itself is about: the device, or on an RTU
        #: line every unit's device (:meth:`name_units`)
        self.name = device.name
        #: unit id -> device name, for a request's failure (on a line, another unit's
        #: device is not the one that failed)
        self._units: dict[int, str] = {device.unit_id: device.name}
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
        quiet_pymodbus()
        self._client = client
        self._watch = install(client)
        #: per table: the pymodbus read method, whether it answers bits, its function code
        self._readers: dict[Table, tuple[Callable[..., Awaitable[ModbusPDU]], bool, int]] = {
            table: (method, table.is_bits, int(READ_FUNCTION[table]))
            for table, method in (
                (Table.HOLDING_REGISTER, client.read_holding_registers),
                (Table.INPUT_REGISTER, client.read_input_registers),
                (Table.COIL, client.read_coils),
                (Table.DISCRETE_INPUT, client.read_discrete_inputs),
            )
        }

    def name_units(self, units: Mapping[int, str]) -> None:
        """The devices on this link by unit id (the line's, as they come and go)."""
        self._units = dict(units)
        if units:
            self.name = ", ".join(sorted(set(units.values())))

    def _who(self, unit: int) -> str:
        return self._units.get(unit, self.name)

    @property
    def connected(self) -> bool:
        """True while the transport is up."""
        return bool(self._client.connected)

    async def connect(self) -> None:
        """Open the connection; raise :class:`NotConnected` if it fails."""
        try:
            ok = await self._client.connect()
        except (OSError, ModbusException, RuntimeError) as exc:
            raise NotConnected(f"{self.name}: cannot connect to {self._where()}: {exc}") from None
        if not ok:
            raise NotConnected(f"{self.name}: cannot connect to {self._where()}")

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

        The hot path of polling: one lookup, one await on top of pymodbus and one
        compound check of the reply (function code, byte count, frame length); the
        request's description is formatted only when it fails.
        """
        method, bits, function = self._readers[table]
        watch = self._watch
        if watch.seen:
            watch.clear()
        try:
            response = await method(start, count=count, device_id=unit)
        except ConnectionException:
            # pymodbus raises this at once when the transport is down (it would not
            # wait for an answer); we reconnect on our own schedule.
            raise NotConnected(f"{self.name}: not connected to {self._where()}") from None
        except ModbusException as exc:
            _reraise_cancel()
            raise self._failure(unit, str(exc), _what(table, start, count)) from None
        except OSError as exc:  # the transport failed under pymodbus
            raise NotConnected(f"{self.name}: connection to {self._where()} lost: {exc}") from None
        except _DECODE_ERRORS as exc:
            raise self._undecodable(unit, exc, _what(table, start, count)) from None
        frame: bytes | None = getattr(response, FRAME, None)
        size = (count + 7) >> 3 if bits else count << 1
        if (
            response.function_code == function
            and frame is not None
            and len(frame) == size + 2
            and frame[1] == size
        ):
            return response.bits if bits else response.registers
        what = _what(table, start, count)
        who = self._who(unit)
        raise read_fault(who, response, function=function, count=count, bits=bits, what=what)

    async def write_coil(self, unit: int, address: int, state: bool) -> None:
        """FC 5."""
        request = self._client.write_coil(address, state, device_id=unit)
        function = FunctionCode.WRITE_SINGLE_COIL
        await self._execute(unit, function, f"co:{address}", request, address=address)

    async def write_coils(self, unit: int, address: int, states: Sequence[bool]) -> None:
        """FC 15."""
        request = self._client.write_coils(address, list(states), device_id=unit)
        what = f"co:{address}+{len(states)}"
        function = FunctionCode.WRITE_MULTIPLE_COILS
        await self._execute(unit, function, what, request, address=address, count=len(states))

    async def write_register(self, unit: int, address: int, value: int) -> None:
        """FC 6."""
        request = self._client.write_register(address, value, device_id=unit)
        function = FunctionCode.WRITE_SINGLE_REGISTER
        await self._execute(unit, function, f"hr:{address}", request, address=address)

    async def write_registers(self, unit: int, address: int, values: Sequence[int]) -> None:
        """FC 16."""
        request = self._client.write_registers(address, list(values), device_id=unit)
        what = f"hr:{address}+{len(values)}"
        count = len(values)
        function = FunctionCode.WRITE_MULTIPLE_REGISTERS
        await self._execute(unit, function, what, request, address=address, count=count)

    async def _execute(
        self,
        unit: int,
        function: FunctionCode,
        where: str,
        request: Awaitable[ModbusPDU],
        *,
        address: int,
        count: int | None = None,
    ) -> ModbusPDU:
        """Await a write ``request`` and check its answer: the function code, and the
        echo of ``address`` (and of ``count`` for FC 15/16)."""
        what = f"write {where}"
        if self._watch.seen:
            self._watch.clear()
        try:
            response = await request
        except ConnectionException:
            raise NotConnected(f"{self.name}: not connected to {self._where()}") from None
        except ModbusException as exc:
            _reraise_cancel()
            raise self._failure(unit, str(exc), what) from None
        except OSError as exc:  # the transport failed under pymodbus
            raise NotConnected(f"{self.name}: connection to {self._where()} lost: {exc}") from None
        except _DECODE_ERRORS as exc:
            raise self._undecodable(unit, exc, what) from None
        who = self._who(unit)
        if response is None:
            raise CommError(f"{who}: no answer to {what}")
        fault = write_fault(
            who, response, function=function, address=address, count=count, what=what
        )
        if fault is not None:
            raise fault
        return response

    def _failure(self, unit: int, text: str, what: str) -> CommError:
        device = self.device
        return failure(
            self._who(unit),
            text,
            what,
            watch=self._watch,
            timeout=device.timeout,
            retries=device.retries,
        )

    def _undecodable(self, unit: int, exc: Exception, what: str) -> MalformedReply:
        return MalformedReply(
            f"{self._who(unit)}: wrong reply to {what}: cannot be decoded ({type(exc).__name__})"
        )


#: unanswered requests in a row after which pymodbus would close an RTU line: never
_NEVER = 2**31

#: pymodbus' decoders raise plain Python errors on malformed frames
_DECODE_ERRORS = (ValueError, IndexError, KeyError, TypeError, AttributeError, struct.error)


def _what(table: Table, start: int, count: int) -> str:
    # formatted only when a request fails, not for every request
    return f"{table.value}:{start}+{count}"


def _reraise_cancel() -> None:
    # pymodbus turns the cancellation of a pending request into ModbusIOException
    # ("Request cancelled outside pymodbus"); a stopping driver must still stop.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
