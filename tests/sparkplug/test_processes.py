"""The control room's real ``hmi`` commands publish the plant to Mosquitto as a Sparkplug B
edge node: ``hmi broker``, ``hmi sim``, ``hmi node`` and ``hmi backend`` (whose project has
a ``sparkplug:`` section), CURVE with a policy. What foreign programs see: ``mosquitto_sub``
the topics of the Sparkplug namespace, Eclipse Tahu's JavaScript codec the births and
data; its DCMD travels MQTT -> backend -> bus -> driver node -> PLC and back as DDATA; the
backend killed, Mosquitto delivers its will (NDEATH).
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.bus.conftest import free_port_pair
from tests.deploy.processes import Command as Process
from tests.deploy.processes import control_room_project, environment, processes, until
from tests.drivers.helpers import free_port
from tests.sparkplug.peers import metrics_of, mosquitto, need, tahu_host
from tests.sparkplug.test_publish import DBIRTH, DDATA, DEVICE, EDGE, GROUP, NBIRTH, NDEATH

pytestmark = pytest.mark.slow


def sparkplug_control_room(folder: Path, broker_port: int, plc_port: int, mqtt: str) -> Path:
    """The demo control room (CURVE) with the backend publishing to ``mqtt``; DCMDs are
    written as ``mqtt-host`` (an operator)."""
    from tests.sparkplug.test_publish import sparkplug_project

    project = control_room_project(folder, broker_port=broker_port, plc_port=plc_port)
    data = yaml.safe_load(project.read_text())
    with_sparkplug = yaml.safe_load(sparkplug_project(folder / "sp", mqtt).read_text())
    data["sparkplug"] = with_sparkplug["sparkplug"]
    data["sparkplug"]["commands"]["password_file"] = "sp/secrets/mqtt-host.password"
    data["users"] = with_sparkplug["users"]
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    # The backend's key publishes the DCMD writes on cmd/ (docs/deployment.md).
    policy = folder / "keys" / "clients.yaml"
    clients = yaml.safe_load(policy.read_text())
    clients["clients"] = [c for c in clients["clients"] if c["name"] in ("drivers", "backend")]
    for client in clients["clients"]:
        if client["name"] == "backend":
            client["publish"] = [*client["publish"], "cmd/"]
    policy.write_text(yaml.safe_dump(clients, sort_keys=False))
    return project


@pytest.mark.timeout(150)
def test_the_backend_publishes_the_plant_to_mosquitto_for_foreign_programs(
    tmp_path: Path,
) -> None:
    sub_program = need("mosquitto_sub")
    (tmp_path / "sp").mkdir()
    broker_port, plc_port = free_port_pair(), free_port()
    env = environment(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    with mosquitto(tmp_path) as mqtt:
        project = sparkplug_control_room(tmp_path, broker_port, plc_port, mqtt.url)
        keys = Process(
            "keys",
            "keys",
            "generate",
            "broker",
            "drivers",
            "backend",
            "--dir",
            str(tmp_path / "keys"),
            env=env,
            log=logs / "keys.log",
        )
        assert keys.proc.wait(30) == 0, keys.text()
        keys.stop()  # reaped: closes its log
        topics_file = (tmp_path / "mosquitto_sub.txt").open("wb")
        sub = subprocess.Popen(
            [sub_program, "-h", "127.0.0.1", "-p", str(mqtt.port), "-t", "spBv1.0/#", "-F", "%t"],
            stdout=topics_file,
            stderr=subprocess.STDOUT,
        )
        host = tahu_host(mqtt, GROUP, logs / "host.log")

        def hmi(name: str, *args: str) -> Process:
            command = Process(name, *args, env=env, log=logs / f"{name}.log")
            started.append(command)
            return command

        try:
            with processes() as started:
                hmi("broker", "broker", str(project), "--quiet")
                hmi("sim", "sim", "--port", str(plc_port))
                node = hmi("node", "node", str(project), "--name", "drivers")
                backend = hmi("backend", "backend", str(project), "--data", str(tmp_path / "data"))
                node.wait_for("ready", 60)
                backend.wait_for("ready", 60)

                # The births and the data, decoded by Tahu's codec.
                nbirth = host.expect(lambda m: m.get("topic") == NBIRTH, 30)
                bdseq = metrics_of(nbirth)["bdSeq"]["value"]
                births = metrics_of(host.expect(lambda m: m.get("topic") == DBIRTH))
                sp_alias = births["area1/lic101/sp"]["alias"]
                host.expect(lambda m: m.get("topic") == DDATA, 30)

                # What mosquitto_sub saw: our topics in the Sparkplug namespace.
                def topics() -> set[str]:
                    return set((tmp_path / "mosquitto_sub.txt").read_text().split())

                until(lambda: {NBIRTH, DBIRTH, DDATA} <= topics(), 10, "mosquitto_sub topics")
                assert all(t.startswith(f"spBv1.0/{GROUP}/") for t in topics())

                # A DCMD through the whole control room: written by the driver node,
                # read back from the PLC, published as DDATA.
                host.send(
                    op="dcmd",
                    edge=EDGE,
                    device=DEVICE,
                    metrics=[{"name": "area1/lic101/sp", "type": "Float", "value": 2.75}],
                )
                host.expect(
                    lambda m: (
                        m.get("topic") == DDATA
                        and any(
                            x.get("alias") == sp_alias and abs(x["value"] - 2.75) < 1e-6
                            for x in m["payload"]["metrics"]
                        )
                    ),
                    30,
                )

                # The backend dies without a word: Mosquitto publishes its will.
                backend.stop(signal.SIGKILL)
                death = host.expect(lambda m: m.get("topic") == NDEATH, 60)
                assert metrics_of(death)["bdSeq"]["value"] == bdseq
        finally:
            host.stop()
            sub.terminate()
            sub.wait(10)
            topics_file.close()
