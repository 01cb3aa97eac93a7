"""The control room, deployed: every process an ``hmi`` command, CURVE with a policy.

Broker (``hmi broker PROJECT``), simulated PLC (``hmi sim``), driver node (``hmi node``),
backend (``hmi backend``) and two offscreen operator stations (``hmi run``, driven through
``--control stdio``), all from one project file whose ``bus:`` section describes the
deployment. The test sees what the stations show, and nothing else.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path

import pytest

from hmi.bus import connect
from hmi.bus.net.keys import ClientKeys, KeyPair
from hmi.bus.wire.messages import encode_command
from hmi.core.command import Command
from tests.bus.conftest import free_port_pair
from tests.deploy.processes import (
    Command as Process,
)
from tests.deploy.processes import (
    control_room_project,
    environment,
    processes,
    start_station,
    until,
)
from tests.drivers.helpers import free_port

pytestmark = pytest.mark.slow

PASSWORD = "demo-operator"  # examples/demo-plant.yaml's operator
LEVEL, SETPOINT, TRIPPED = "area1/t101/level", "area1/lic101/sp", "area1/p101/tripped"
COMM = "system/plc1/comm"


def alarm(station, tag: str) -> dict | None:
    return next((a for a in station.ask("alarms") if a["tag"] == tag), None)


def test_two_stations_run_a_distributed_plant_through_broker_backend_and_driver_node(
    tmp_path: Path,
) -> None:
    broker_port, plc_port = free_port_pair(), free_port()
    project = control_room_project(tmp_path, broker_port=broker_port, plc_port=plc_port)
    env = environment(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    keys = Process(
        "keys",
        "keys",
        "generate",
        "broker",
        "drivers",
        "backend",
        "station",
        "station-2",
        "--dir",
        str(tmp_path / "keys"),
        env=env,
        log=logs / "keys.log",
    )
    assert keys.proc.wait(30) == 0, keys.text()

    def hmi(name: str, *args: str) -> Process:
        command = Process(name, *args, env=env, log=logs / f"{name}.log")
        started.append(command)
        return command

    with processes() as started:
        # Started in the wrong order on purpose: nodes wait for their broker.
        node = hmi("node", "node", str(project), "--name", "drivers")
        backend = hmi("backend", "backend", str(project), "--data", str(tmp_path / "data"))
        node.wait_for("joining broker")
        broker = hmi("broker", "broker", str(project), "--quiet")
        sim = hmi("sim", "sim", "--port", str(plc_port), "--fault", "pump_trip")
        node.wait_for("ready")
        backend.wait_for("ready")
        # An operator at station 1, an engineer (who may read the audit trail) at 2.
        stations = [
            start_station("station", project, env, logs / "station.log", PASSWORD),
            start_station(
                "station-2", project, env, logs / "station-2.log", "demo-engineer", user="engineer"
            ),
        ]
        started.extend(stations)
        one, two = stations

        # Logged in through the backend; live values through the broker.
        for station, user in zip(stations, ("operator", "engineer"), strict=True):
            until(lambda s=station, u=user: s.ask("status")["user"] == u, 30, "login")
            until(lambda s=station: s.ask("sample", tag=LEVEL)["quality"] == "GOOD", 30, "data")
            assert "connected" in station.ask("status")["bus"]

        # A write from station 1 is confirmed, audited, and seen by station 2.
        result = one.ask("write", tag=SETPOINT, value=2.5)
        assert result["state"] == "confirmed", result
        until(lambda: abs(two.ask("sample", tag=SETPOINT)["value"] - 2.5) < 1e-6, 10, "sp")
        with pytest.raises(AssertionError, match="PermissionError"):
            one.ask("audit", limit=50)  # an operator may not read the audit trail
        rows = two.ask("audit", limit=50)
        assert any(
            r["target"] == SETPOINT and r["outcome"] == "confirmed" and r["user"] == "operator"
            for r in rows
        ), rows

        # The simulator's fault (a pump trip) raises an alarm shown in both.
        for station in stations:
            until(lambda s=station: alarm(s, TRIPPED), 20, "trip alarm")
            assert alarm(station, TRIPPED)["state"] == "unacknowledged"
        # An acknowledge in one is seen in the other within a second.
        answer = one.ask("acknowledge", tags=[TRIPPED])  # the operator acknowledges
        assert answer[0]["ok"], answer
        until(lambda: alarm(two, TRIPPED)["state"] == "acknowledged", 1.0, "ack seen")

        # A trend backfills from the historian.
        now = time.time()
        history = one.ask("history", tag=LEVEL, start=now - 60, end=now + 1, buckets=60)
        assert sum(history["count"]) > 0, history

        # A command without a session, claiming the operator role, is refused and audited.
        asyncio.run(_tokenless_write(tmp_path, broker_port))
        until(
            lambda: any(
                r["target"] == SETPOINT
                and r["outcome"] == "rejected"
                and "not logged in" in r["reason"]
                for r in two.ask("audit", limit=50)
            ),
            10,
            "the tokenless write rejected and audited",
        )
        assert abs(two.ask("sample", tag=SETPOINT)["value"] - 2.5) < 1e-6

        # The broker dies: every value turns UNCERTAIN (broker lost) in both stations.
        broker.proc.kill()
        broker.proc.wait()
        for station in stations:
            until(
                lambda s=station: s.ask("sample", tag=LEVEL)["reason"] == "broker lost",
                5,
                "values uncertain after the broker died",
            )
            assert station.ask("sample", tag=LEVEL)["quality"] == "UNCERTAIN"
            assert "LOST" in station.ask("status")["bus"]
        # It comes back: GOOD again, no node restarted.
        broker = hmi("broker-2", "broker", str(project), "--quiet")
        for station in stations:
            until(lambda s=station: s.ask("sample", tag=LEVEL)["quality"] == "GOOD", 20, "GOOD")
        assert all(p.proc.poll() is None for p in (node, backend, *stations))

        # The PLC stops: the device's communication alarm appears in both stations.
        sim.stop()
        for station in stations:
            until(
                lambda s=station: (alarm(s, COMM) or {}).get("state") == "unacknowledged",
                20,
                "comm alarm",
            )
        # The driver node dies: its node alarm appears.
        node.proc.send_signal(signal.SIGKILL)
        for station in stations:
            until(lambda s=station: alarm(s, "system/drivers/node"), 20, "node alarm")


async def _tokenless_write(folder: Path, broker_port: int) -> None:
    """A crafted command from a node with an admitted key: no session, claims operator."""
    keys = ClientKeys(
        KeyPair.load(folder / "keys" / "station-2.key_secret"),
        KeyPair.load(folder / "keys" / "broker.key").public,
    )
    bus = await connect(f"tcp://127.0.0.1:{broker_port}", name="intruder", keys=keys)
    try:
        command = Command(
            id=uuid.uuid4().hex,
            tag=SETPOINT,
            value=3.0,
            user="operator",
            roles=frozenset({"operator"}),
        )
        bus.publish(f"cmd/{SETPOINT}", encode_command(command))
    finally:
        await bus.close()
