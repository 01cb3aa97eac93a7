"""Two HMI clients and one backend through a real broker: alarms are the same everywhere.

Each client is what ``hmi run --broker`` builds for alarms: its own ZeroMQ connection, the
GUI's :class:`~hmi.qt.alarms.AlarmModel` wired by :func:`hmi.app.alarms.connect_alarms`,
the engine's snapshot, then ``alarm/#``. An acknowledge made in one client shows in the
other within a second; a viewer's acknowledge is refused and the refusal reaches the
operator's notifier; a client joining late starts from the same state.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hmi.app import DEMO_PROJECT
from hmi.app.alarms import connect_alarms, load_snapshot
from hmi.app.plant import Backend
from hmi.bus import Bus, connect
from hmi.bus.broker import Broker
from hmi.core.alarms import AlarmState
from hmi.project import load_project
from hmi.qt.alarms import AlarmModel
from tests.bus.conftest import free_port_pair

LEVEL = "area1/t101/level"


class Client:
    """One HMI's alarm side: a bus of its own, a model, a session, what it was told."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.model = AlarmModel()
        self.session = ("", "")
        self.notices: list[str] = []
        self._changed = asyncio.Event()
        self.model.changed.connect(lambda tags: self._changed.set())
        connect_alarms(bus, self.model, lambda: self.session, notify=self.notices.append)

    async def log_in(self, user: str, password: str) -> None:
        info = await self.bus.call("security", "login", user, password)
        self.session = (info["user"], info["token"])

    async def until(self, tag: str, state: AlarmState, timeout: float = 5.0) -> float:
        """Wait until ``tag`` is in ``state`` here (woken by the model); the time it took."""
        start = time.monotonic()
        async with asyncio.timeout(timeout):
            while (status := self.model.status(tag)) is None or status.state is not state:
                self._changed.clear()
                await self._changed.wait()
        return time.monotonic() - start


def test_an_acknowledge_in_one_client_shows_in_the_other_within_a_second(
    qapp, tmp_path, monkeypatch
):
    monkeypatch.setenv("HMI_STATE_DIR", str(tmp_path / "state"))
    address = f"tcp://127.0.0.1:{free_port_pair()}"

    async def main() -> None:
        broker = Broker(address, heartbeat=0.2, write_state_file=False)
        await broker.start()
        backend_bus = await connect(address, name="backend")
        backend = Backend(load_project(DEMO_PROJECT), backend_bus, tmp_path, simulate=True)
        await backend.start()
        buses: list[Bus] = []
        try:
            for name in ("hmi-a", "hmi-b"):
                buses.append(await connect(address, name=name))
            a, b = Client(buses[0]), Client(buses[1])
            for client in (a, b):
                await load_snapshot(client.bus, client.model)
            # Every alarm of the plant is known from the snapshot, before anything happens.
            assert len(a.model) == len(b.model) > 0 and a.model.status(LEVEL) is not None

            await backend_bus.call("sim", "inject", "alarm_flood")
            await a.until(LEVEL, AlarmState.UNACKNOWLEDGED)
            await b.until(LEVEL, AlarmState.UNACKNOWLEDGED)

            # A viewer in B may look, not acknowledge: refused, and B's operator is told.
            await b.log_in("viewer", "demo-viewer")
            assert await b.model.acknowledge([LEVEL]) == []
            assert b.notices and "viewer may not" in b.notices[-1]
            assert b.model.status(LEVEL).state is AlarmState.UNACKNOWLEDGED

            await a.log_in("operator", "demo-operator")
            assert await a.model.acknowledge([LEVEL], "seen, level rising") == [LEVEL]
            # The bound: the other client shows it within a second.
            took = await b.until(LEVEL, AlarmState.ACKNOWLEDGED, timeout=1.0)
            assert took < 1.0
            assert b.model.status(LEVEL).user == "operator"

            # A third HMI started now shows the same state from the snapshot alone.
            buses.append(await connect(address, name="hmi-late"))
            late = Client(buses[-1])
            await load_snapshot(late.bus, late.model)
            assert late.model.status(LEVEL).state is AlarmState.ACKNOWLEDGED
            rows: list[dict[str, Any]] = await late.model.history(tag=LEVEL)
            assert [r["event"] for r in rows][-1:] == ["acknowledge"]
            assert rows[-1]["actor"] == "operator" and rows[-1]["comment"] == "seen, level rising"
        finally:
            for bus in buses:
                await bus.close()
            await backend.stop()
            await backend_bus.close()
            await broker.close()

    asyncio.run(main())
