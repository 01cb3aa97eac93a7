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
        else:
            values = [(start + i) & 0xFFFF for i in range(count)]
            if mode == "wrong_count":
                values = values[:-1]
            body = bytes([function, 2 * len(values)]) + struct.pack(f">{len(values)}H", *values)
        if mode == "wrong_tid":
            tid = (tid + 7) & 0xFFFF
        if mode == "wrong_unit":
            unit = (unit + 1) & 0xFF
        return struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body

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
