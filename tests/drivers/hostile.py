"""A hostile Modbus/TCP device: answers wrongly on purpose (asyncio, tests only)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator


class HostileDevice:
    """Serves registers ``value(address) = address``, misbehaving as ``mode`` says.

    Modes: ``ok``, ``wrong_count`` (one register short), ``wrong_tid``, ``wrong_unit``,
    ``garbage``, ``slow`` (answers after ``delay``), ``silent``, ``exception`` (code 2 for
    any read covering an address in ``refused``), ``close`` (hangs up on each request).

    Replies that are well framed but not the answer to the request (issue 15), all with
    the request's transaction id and unit unless the mode is about those:
    ``wrong_function`` (an FC 4 answer to an FC 3 read with the right count, an FC 3
    answer to a write; other reads are answered right), ``wrong_byte_count`` (a byte
    count two short of the data that follows),
    ``long_byte_count`` (a byte count past the frame: pymodbus' decoder fails),
    ``unknown_function`` (function code 0x41), ``wrong_exception`` (an exception response
    for another function code), ``tid_zero`` (transaction id 0), ``wrong_echo`` (a write
    answered for another address).

    Writes (FC 5, 6, 15, 16) are answered as the specification says (an echo of address
    and value or count) and change nothing: a read-back shows the address again.
    """

    def __init__(
        self, mode: str = "ok", *, refused: set[int] | None = None, delay: float = 1.0
    ) -> None:
        self.mode = mode
        self.refused = refused or set()
        self.delay = delay
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                header = await reader.readexactly(7)
                tid, _, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                self.requests += 1
                reply = self._reply(tid, unit, pdu)
                if self.mode == "close":
                    break
                if reply is None:
                    continue
                if self.mode == "slow":
                    await asyncio.sleep(self.delay)
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _reply(self, tid: int, unit: int, pdu: bytes) -> bytes | None:
        function, start, count = pdu[0], *struct.unpack(">HH", pdu[1:5])
        mode = self.mode
        if mode == "silent":
            return None
        if mode == "garbage":
            return b"\xde\xad\xbe\xef" * 5
        if mode == "exception" and any(start <= r < start + count for r in self.refused):
            body = bytes([function | 0x80, 2])
        elif function in (5, 6, 15, 16):
            body = bytes([function]) + pdu[1:5]  # address and value (5, 6) or count
        else:
            values = [(start + i) & 0xFFFF for i in range(count)]
            if mode == "wrong_count":
                values = values[:-1]
            data = struct.pack(f">{len(values)}H", *values)
            if function in (1, 2):
                data = bytes((count + 7) // 8)  # all bits off
            body = bytes([function, len(data)]) + data
        body = self._misanswer(mode, function, start, body)
        if mode == "wrong_tid":
            tid = (tid + 7) & 0xFFFF
        if mode == "tid_zero":
            tid = 0
        if mode == "wrong_unit":
            unit = (unit + 1) & 0xFF
        return struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body

    @staticmethod
    def _misanswer(mode: str, function: int, start: int, body: bytes) -> bytes:
        """The reply of the issue-15 modes, from the right one (``body``)."""
        if mode == "wrong_function" and function in (3, 5, 6, 15, 16):
            return bytes([4 if function == 3 else 3]) + body[1:]
        if mode == "wrong_byte_count":
            return bytes([body[0], max(body[1] - 2, 0)]) + body[2:]
        if mode == "long_byte_count":
            return bytes([body[0], body[1] + 2]) + body[2:]
        if mode == "unknown_function":
            return bytes([0x41]) + body[1:]
        if mode == "wrong_exception":
            return bytes([(function + 1) | 0x80, 2])
        if mode == "wrong_echo" and function in (5, 6, 15, 16):
            return bytes([function]) + struct.pack(">H", (start + 1) & 0xFFFF) + body[3:]
        return body

    async def start(self, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()


@contextlib.asynccontextmanager
async def hostile(port: int, mode: str, **kw: object) -> AsyncIterator[HostileDevice]:
    """Run a :class:`HostileDevice` on 127.0.0.1:``port`` for the block's duration."""
    dev = HostileDevice(mode, **kw)  # type: ignore[arg-type]
    await dev.start(port)
    try:
        yield dev
    finally:
        await dev.stop()
