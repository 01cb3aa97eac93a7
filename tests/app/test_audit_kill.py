"""kill -9 during audit writes loses no confirmed write's row (issue 15): real ``hmi broker``,
``hmi sim``, ``hmi node`` (the driver) and ``hmi backend`` processes; this test is the
operator's station, a bus client with station-2's key.

The moment that used to lose the row is made certain instead of hoped for: the setpoint
is watched for 4 s after it is written (``settle``), and the backend is frozen (SIGSTOP)
as soon as the new value shows on the bus, while the driver is still watching it. The
driver confirms the write while the backend cannot do anything, and then the backend is
killed with SIGKILL. A write is confirmed only once its row is in the audit file, so the
row is there.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hmi.bus import bind_store, connect
from hmi.bus.net.keys import ClientKeys, KeyPair
from hmi.core.command import CommandState
from hmi.core.quality import Severity
from hmi.core.tagstore import TagStore
from tests.app.helpers import Results, node_of, send, until_value
from tests.app.test_audit_fail_closed import needs_the_drivers_intent
from tests.bus.conftest import free_port_pair
from tests.deploy.processes import Command as Process
from tests.deploy.processes import control_room_project, environment
from tests.drivers.helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SP = "area1/lic101/sp"
#: seconds the driver watches the setpoint before it confirms: the backend is frozen then
SETTLE = 4.0


class Room:
    """The running control room: its folder, broker address and backend process."""

    def __init__(self, folder: Path, broker_port: int, backend: Process) -> None:
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{broker_port}"
        self.backend = backend

    def keys(self) -> ClientKeys:
        keys = self.folder / "keys"
        return ClientKeys(
            KeyPair.load(keys / "station-2.key_secret"), KeyPair.load(keys / "broker.key").public
        )

    def audit_rows(self) -> list[dict[str, Any]]:
        """The write rows of the backend's audit file, as it is on disk now."""
        with sqlite3.connect(self.folder / "data" / "audit.sqlite") as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM audit WHERE action = 'write' ORDER BY id").fetchall()
        return [dict(row) for row in rows]


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Room]:
    broker_port, plc_port = free_port_pair(), free_port()
    project = control_room_project(tmp_path, broker_port=broker_port, plc_port=plc_port)
    data = yaml.safe_load(project.read_text())
    [sp] = [tag for tag in data["tags"] if tag["name"] == SP]
    sp["settle"] = SETTLE
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    env = environment(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    names = ("broker", "drivers", "backend", "station", "station-2")
    keys = Process(
        "keys", "keys", "generate", *names, "--dir", str(tmp_path / "keys"), env=env,
        log=logs / "keys.log",
    )  # fmt: skip
    assert keys.proc.wait(30) == 0, keys.text()
    started: list[Process] = []
    try:
        for name, args in (
            ("broker", ("broker", str(project), "--quiet")),
            ("sim", ("sim", "--port", str(plc_port))),
            ("node", ("node", str(project), "--name", "drivers")),
            ("backend", ("backend", str(project), "--data", str(tmp_path / "data"))),
        ):
            started.append(Process(name, *args, env=env, log=logs / f"{name}.log"))
        started[2].wait_for("; ready", 30)
        started[3].wait_for("; ready", 30)
        yield Room(tmp_path, broker_port, started[3])
    finally:
        for process in reversed(started):
            if process.proc.poll() is None:
                process.proc.send_signal(signal.SIGCONT)  # a frozen one must hear its stop
            process.stop()


@needs_the_drivers_intent
def test_kill_9_of_the_backend_loses_no_confirmed_writes_row(room: Room) -> None:
    confirmed: list[float] = []

    async def main() -> None:
        bus = await connect(room.address, name="station-2", keys=room.keys())
        try:
            store = TagStore()
            bind_store(bus, store, "tag/#")
            results = Results(bus)
            await until_value(store, SP, lambda s: s.quality.severity is Severity.GOOD, 20)
            session = await bus.call(
                "security", "login", "operator", "demo-operator", node=node_of(bus)
            )
            token = session["token"]

            # One write as usual ...
            first = send(bus, SP, 2.25, user="operator", token=token)
            assert (await results.wait(first, SETTLE + 10)).state is CommandState.CONFIRMED
            confirmed.append(2.25)

            # ... and one confirmed while the backend is frozen, then killed.
            for value in (2.5, 2.75, 3.0):
                sent = time.monotonic()
                ident = send(bus, SP, value, user="operator", token=token)
                await until_value(store, SP, lambda s, v=value: abs(s.value - v) < 1e-6, 10)
                if time.monotonic() - sent > SETTLE / 2:
                    # Too slow to be sure the driver still watches it: no proof either way.
                    if (await results.wait(ident, SETTLE + 10)).state is CommandState.CONFIRMED:
                        confirmed.append(value)
                    continue
                os.kill(room.backend.proc.pid, signal.SIGSTOP)
                if ident in results.seen:  # answered before the freeze: try again
                    os.kill(room.backend.proc.pid, signal.SIGCONT)
                    if results.seen[ident].state is CommandState.CONFIRMED:
                        confirmed.append(value)
                    continue
                result = await results.wait(ident, SETTLE + 10)
                assert result.state is CommandState.CONFIRMED, result
                confirmed.append(value)
                break
            else:
                pytest.fail("no write was confirmed while the backend was frozen")
            os.kill(room.backend.proc.pid, signal.SIGKILL)
            room.backend.proc.wait(10)
        finally:
            await bus.close()

    asyncio.run(main())
    assert room.backend.proc.returncode == -signal.SIGKILL
    rows = room.audit_rows()
    for value in confirmed:
        mine = [r for r in rows if json.loads(r["new_value"]) == value and r["target"] == SP]
        assert mine, f"the confirmed write of {value} has no audit row: {rows}"
        assert {r["user"] for r in mine} == {"operator"}
