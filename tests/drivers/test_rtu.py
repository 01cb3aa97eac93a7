"""Modbus RTU over a real serial link: a pty pair from socat, pymodbus' serial server on
one end with several unit ids, our driver on the other.

The units share one line and are polled one after another; a unit that stops answering
turns only its own tags BAD, and the units that answer keep polling on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymodbus.datastore import ModbusServerContext
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer

from hmi.core.command import Command, CommandState
from hmi.core.quality import Reason, Severity
from hmi.drivers.manager import DriverManager
from hmi.project.model import DeviceConfig
from tests.drivers.helpers import RecordingSink, datastore, tag

pytestmark = pytest.mark.skipif(
    shutil.which("socat") is None,
    reason="socat is not installed (packaging/sysdeps.sh installs it): no pty pair for RTU",
)

PERIOD, TIMEOUT = 0.1, 0.05
BOUND = 2 * PERIOD + TIMEOUT
#: a silent unit is asked again after at most this long (the line's reconnect_max)
RETRY_MAX = 1.0
SILENT = 5  # units that never answer
OPS = frozenset({"operator"})


@contextlib.contextmanager
def serial_pair(folder: Path) -> Iterator[tuple[str, str]]:
    """Two pseudo-terminals wired to each other by socat: (server end, driver end)."""
    ends = folder / "server-tty", folder / "driver-tty"
    proc = subprocess.Popen(
        ["socat", "-d", "-d", *(f"pty,raw,echo=0,link={end}" for end in ends)],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while not all(end.exists() for end in ends):
            assert proc.poll() is None, "socat exited"
            assert time.monotonic() < deadline, "socat made no pty pair within 5 s"
            time.sleep(0.01)
        yield str(ends[0]), str(ends[1])
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@contextlib.asynccontextmanager
async def serial_server(tty: str, context: ModbusServerContext) -> AsyncIterator[None]:
    """pymodbus' RTU server on ``tty``; units missing from ``context`` stay silent."""
    server = ModbusSerialServer(
        context,
        framer=FramerType.RTU,
        port=tty,
        baudrate=19200,
        parity="N",  # a pty refuses parity settings (EINVAL); real lines use E
        ignore_missing_devices=True,
    )
    await server.serve_forever(background=True)
    try:
        yield
    finally:
        await server.shutdown()


def rtu(name: str, tty: str, unit: int) -> DeviceConfig:
    return DeviceConfig(
        name=name,
        protocol="modbus-rtu",
        serial_port=tty,
        unit_id=unit,
        baudrate=19200,
        parity="N",  # a pty refuses parity settings (EINVAL); real lines use E
        timeout=TIMEOUT,
        retries=0,
        reconnect_max=RETRY_MAX,
    )


def test_units_on_one_serial_line_polled_in_turn_and_a_silent_one_goes_bad(
    tmp_path: Path,
) -> None:
    async def main(server_tty: str, driver_tty: str) -> None:
        units = {n: datastore(hr=[100 * n + i for i in range(200)]) for n in (1, 2, 3)}
        context = ModbusServerContext(devices=dict(units), single=False)
        sink = RecordingSink()
        scans: list[tuple[float, float, str]] = []
        manager = DriverManager(
            sink, {"fast": PERIOD}, on_scan=lambda d, g, a, b: scans.append((a, b, d))
        )
        for n in (1, 2, 3):
            writable: dict[str, Any] = {"write_roles": OPS} if n == 2 else {}
            manager.add_device(
                rtu(f"u{n}", driver_tty, n),
                [
                    tag(f"rtu/u{n}/a", f"u{n}", "hr:0"),
                    tag(f"rtu/u{n}/b", f"u{n}", "hr:7", **writable),
                ],
            )
        # Units that never answer: more unanswered requests in a row than pymodbus
        # allows before it closes a connection (retries + 3).
        for n in range(11, 11 + SILENT):
            manager.add_device(rtu(f"x{n}", driver_tty, n), [tag(f"rtu/x{n}/a", f"x{n}", "hr:0")])
        healthy = [f"rtu/u{n}/{p}" for n in (1, 2) for p in "ab"]
        absent = [f"rtu/x{n}/a" for n in range(11, 11 + SILENT)]

        async with serial_server(server_tty, context):
            await manager.start()
            try:
                # every answering unit is read, each with its own registers
                await sink.wait(
                    lambda: all(
                        sink.severity(f"rtu/u{n}/{p}") is Severity.GOOD
                        for n in (1, 2, 3)
                        for p in "ab"
                    )
                )
                for n in (1, 2, 3):
                    assert sink.value(f"rtu/u{n}/a") == 100 * n
                    assert sink.value(f"rtu/u{n}/b") == 100 * n + 7
                # the silent units are BAD, and only they
                await sink.wait(lambda: all(sink.severity(t) is Severity.BAD for t in absent))
                assert sink.latest[absent[0]].quality.reason is Reason.NO_COMMUNICATION
                # each silent unit's tags name its own device, not the line's first one
                for n in range(11, 11 + SILENT):
                    detail = sink.latest[f"rtu/x{n}/a"].quality.detail
                    assert detail.startswith(f"x{n}: "), detail

                # one line, one request at a time: scans never overlap
                ordered = sorted(scans)
                for (_, end, _), (start, _, _) in itertools.pairwise(ordered):
                    assert start >= end, "two scans on one serial line overlapped"
                assert len({d for _, _, d in ordered}) == 3 + SILENT  # every unit was asked

                # closed-loop write to one unit on the shared line
                result = await manager.write(Command("w1", "rtu/u2/b", 4242, roles=OPS))
                assert result.state is CommandState.CONFIRMED, result
                assert units[2].getValues(3, 7, 1) == [4242]

                # unit 3 falls silent: its tags go UNCERTAIN, then BAD within the bound
                del context[3]
                died = time.monotonic()
                bad_at = await sink.wait(
                    lambda: all(sink.severity(f"rtu/u3/{p}") is Severity.BAD for p in "ab"),
                    timeout=BOUND + 1,
                )
                assert bad_at - died <= BOUND + 0.15, bad_at - died
                assert sink.value("rtu/u3/a") == 300  # the last value is kept
                # ... while units 1 and 2 keep polling: a change on unit 1 arrives within a
                # period plus, at worst, one timeout of each silent unit (asked once a round)
                units[1].setValues(3, 0, [111])
                changed = time.monotonic()
                arrived = await sink.wait(lambda: sink.value("rtu/u1/a") == 111)
                assert arrived - changed <= PERIOD + (SILENT + 1) * TIMEOUT + 0.15, (
                    arrived - changed
                )
                # from their first value on, the answering units never left GOOD, and the
                # line was never dropped (pymodbus closes a connection after a few
                # unanswered requests in a row; on an RTU line that must not happen)
                seen: set[str] = set()
                for _, batch in sink.batches:
                    for name in healthy:
                        if name in batch:
                            if name in seen:
                                assert batch[name].quality.severity is Severity.GOOD, batch[name]
                            seen.add(name)
                assert all(sink.statuses[f"u{n}"].connected for n in (1, 2))
                assert "connection" not in sink.statuses["u1"].errors, sink.statuses["u1"]

                # unit 3 answers again: GOOD when it is next asked
                context[3] = units[3]
                back = time.monotonic()
                good_at = await sink.wait(
                    lambda: all(sink.severity(f"rtu/u3/{p}") is Severity.GOOD for p in "ab")
                )
                assert good_at - back <= RETRY_MAX + 0.3, good_at - back
            finally:
                await manager.stop()

    with serial_pair(tmp_path) as (server_tty, driver_tty):
        asyncio.run(main(server_tty, driver_tty))
