"""Two HMI clients and one backend through a real broker (ZeroMQ over TCP on 127.0.0.1).

A write made in one client is visible in the other within a second: the new value in its
tag store and the command's result. Each node has its own ZeroMQ connection, as separate
processes would.
"""

from __future__ import annotations

import asyncio

from hmi.app import DEMO_PROJECT
from hmi.app.plant import Backend
from hmi.bus import bind_store, connect
from hmi.bus.broker import Broker
from hmi.core.command import CommandState, settle_time
from hmi.core.quality import Severity
from hmi.core.tagstore import TagStore
from hmi.project import load_project
from tests.app.helpers import Results, node_of, send, until_value
from tests.bus.conftest import free_port_pair

SP = "area1/lic101/sp"


def test_a_write_in_one_client_shows_in_the_other_within_a_second(tmp_path, monkeypatch):
    monkeypatch.setenv("HMI_STATE_DIR", str(tmp_path / "state"))
    address = f"tcp://127.0.0.1:{free_port_pair()}"

    async def main() -> None:
        broker = Broker(address, heartbeat=0.2, write_state_file=False)
        await broker.start()
        backend_bus = await connect(address, name="backend")
        project = load_project(DEMO_PROJECT)
        backend = Backend(project, backend_bus, tmp_path, simulate=True)
        await backend.start()
        a = await connect(address, name="hmi-a")
        b = await connect(address, name="hmi-b")
        stores = {"a": TagStore(), "b": TagStore()}
        bind_store(a, stores["a"], "tag/#")
        bind_store(b, stores["b"], "tag/#")
        results_b = Results(b)
        try:
            for store in stores.values():
                await until_value(store, SP, lambda s: s.quality.severity is Severity.GOOD)
            # logged in on a's node: the session is good for commands from a only
            session = await a.call(
                "security", "login", "operator", "demo-operator", node=node_of(a)
            )
            command = send(a, SP, 2.1, user="operator", token=session["token"])
            # The bound: visible in the other client within a second. Both clients
            # get the new value (the driver publishes its read-back at once); neither waits
            # for the other (no order between two subscribers), so each is awaited within
            # the bound.
            for store in stores.values():
                await until_value(store, SP, lambda s: abs(s.value - 2.1) < 1e-6, timeout=1.0)
            # The result comes once the write has settled (the device still holds it after
            # its settle time: docs/drivers.md), and reaches the other client within a
            # second of that.
            settle = settle_time(None, None, project.poll_groups["normal"])
            result = await results_b.wait(command, timeout=settle + 1.0)
            assert result.state is CommandState.CONFIRMED
        finally:
            await a.close()
            await b.close()
            await backend.stop()
            await backend_bus.close()
            await broker.close()

    asyncio.run(main())
