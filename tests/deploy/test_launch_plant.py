"""``hmi launch examples/launch-plant.yaml``: the whole distributed demo plant comes up
(keys made, broker with CURVE, simulator, driver node, backend, station), serves a login
and a write, and stops cleanly on Ctrl-C.

The example's files are copied to a temporary folder with free ports in place of 5570 and
5020 (the only change), so the test never touches the source tree or a port in use.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest

from hmi.bus import connect
from hmi.bus.local.store import bind_store
from hmi.bus.net.keys import ClientKeys, KeyPair
from hmi.bus.wire.messages import encode_command
from hmi.core.command import Command as Write
from hmi.core.tagstore import TagStore
from hmi.project import load_project
from tests.app.helpers import until_value
from tests.bus.conftest import free_port_pair
from tests.deploy.processes import ROOT, Command, environment
from tests.drivers.helpers import free_port

pytestmark = pytest.mark.slow

SETPOINT = "area1/lic101/sp"


def test_the_launch_file_starts_the_plant_serves_a_login_and_a_write_and_stops(
    tmp_path: Path,
) -> None:
    broker_port, plc_port = free_port_pair(), free_port()
    examples = tmp_path / "examples"
    (examples / "keys").mkdir(parents=True)
    for name in ("launch-plant.yaml", "demo-plant.yaml", "keys/clients.yaml"):
        text = (ROOT / "examples" / name).read_text()
        text = text.replace("5570", str(broker_port)).replace("5020", str(plc_port))
        (examples / name).write_text(text)
    launch = Command(
        "launch",
        "launch",
        str(examples / "launch-plant.yaml"),
        "--status-interval",
        "0",
        env=environment(tmp_path),
        log=tmp_path / "launch.log",
    )
    try:
        for node in ("broker", "plant", "drivers", "backend", "station"):
            launch.wait_for(f"[launch] {node}: up pid", 60)
        launch.wait_for("hmi backend backend: security", 60)
        token, value = asyncio.run(_log_in_and_write(examples, broker_port))
        assert token
        assert value == pytest.approx(2.25)
    finally:
        code = launch.stop(signal.SIGINT, timeout=30)
    text = launch.text()
    assert code == 0, text[-3000:]
    for node in ("station", "backend", "drivers", "plant", "broker"):
        assert f"[launch] {node}: stopped in" in text, text[-3000:]
    assert "SIGKILL" not in text.split("stopping every node")[1].replace("SIGKILL after", "")
    shutil.rmtree(examples / "keys")  # secrets of a test: gone with it


async def _log_in_and_write(examples: Path, broker_port: int) -> tuple[str, object]:
    """Join as station-2 (a key the example's policy admits), log in, write, read back."""
    keys = ClientKeys(
        KeyPair.load(examples / "keys" / "station-2.key_secret"),
        KeyPair.load(examples / "keys" / "broker.key").public,
    )
    project = load_project(examples / "demo-plant.yaml")
    bus = await connect(f"tcp://127.0.0.1:{broker_port}", name="station-2", keys=keys)
    try:
        store = TagStore(project.tags.values())
        bind_store(bus, store, "tag/#")
        # The backend said it is ready: its services are exposed.
        session = await bus.call(
            "security", "login", "operator", "demo-operator", node=bus.transport.node_id
        )
        write = Write(
            id=uuid.uuid4().hex,
            tag=SETPOINT,
            value=2.25,
            user="operator",
            token=session["token"],
            time=time.time(),
        )
        bus.publish(f"cmd/{SETPOINT}", encode_command(write))
        await until_value(
            store,
            SETPOINT,
            lambda sample: sample.value is not None and abs(sample.value - 2.25) < 1e-6,
            15,
        )
        return session["token"], store.get(SETPOINT).value
    finally:
        await bus.close()
