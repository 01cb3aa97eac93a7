"""The OPC UA driver as a user runs it: ``hmi node`` and ``hmi opcua browse`` as processes.

``hmi broker`` and ``hmi node project.yaml`` run against node-opcua; a plain bus client
receives the tags with their qualities, serves the security service and the audit
recorder, and sends commands: an operator's is written, read back, confirmed and audited;
a viewer's is refused (and audited). ``hmi opcua browse`` lists the server's nodes and
writes tag definitions that ``hmi check`` accepts in a project.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from hmi.bus import Supervisor, connect
from hmi.bus.wire.messages import decode_result, encode_command
from hmi.bus.wire.samples import decode_samples
from hmi.core.command import Command, CommandState
from hmi.core.quality import Reason, Severity
from hmi.services.audit import AuditLog
from hmi.services.security import Security
from hmi.services.security_actor import AuditRecorder, SecurityActor
from tests.bus.conftest import free_port_pair
from tests.drivers.helpers import KEY, session
from tests.drivers.test_node import hmi_process
from tests.opcua.helpers import write_project
from tests.opcua.peer import NodeOpcUaServer


def test_hmi_node_serves_an_opcua_server_to_the_bus(
    node_opcua: NodeOpcUaServer, tmp_path: Path
) -> None:
    project = write_project(tmp_path, node_opcua.endpoint)
    address = f"tcp://127.0.0.1:{free_port_pair()}"
    env = {**os.environ, "HMI_STATE_DIR": str(tmp_path / "state")}
    env.pop("HMI_BROKER", None)
    audit_path = tmp_path / "audit.sqlite"

    async def main() -> dict[str, Any]:
        bus = await connect(address, name="probe", heartbeat=0.2, wait=15)
        latest: dict[str, Any] = {}
        statuses: list[dict[str, Any]] = []
        results: asyncio.Queue[Any] = asyncio.Queue()
        got = asyncio.Event()

        def on_tags(topic: str, payload: Any) -> None:
            latest.update(decode_samples(payload))
            got.set()

        async def until(condition: Any, timeout: float = 20.0) -> None:
            async with asyncio.timeout(timeout):
                while not condition():
                    got.clear()
                    await got.wait()

        def severity(name: str) -> Severity | None:
            return latest[name].quality.severity if name in latest else None

        bus.subscribe("tag/#", on_tags)
        bus.subscribe("result/#", lambda t, p: results.put_nowait(decode_result(p)))
        bus.subscribe("$sys/device/#", lambda t, p: (statuses.append(p), got.set()))
        security = Supervisor(bus)
        service = Security({}, KEY, None, clock=time.time)
        await security.start(SecurityActor(service))
        audit = AuditLog(audit_path)
        await security.start(AuditRecorder(audit, service))
        try:
            await until(lambda: severity("u/plc/name") is Severity.GOOD)
            assert latest["u/plc/name"].value == "pump one"
            assert latest["u/plc/level"].value == 1.25
            await until(lambda: severity("u/plc/missing") is Severity.BAD)
            assert latest["u/plc/missing"].quality.reason is Reason.CONFIG_ERROR
            node_opcua.command("bad")
            await until(lambda: severity("u/plc/sensor") is Severity.BAD)
            assert latest["u/plc/sensor"].quality.reason is Reason.SENSOR_FAILURE

            here = getattr(bus.transport, "node_id", "")
            token = session("op", "operator", node=here)
            for attempt in range(50):  # until the node's subscription reached the broker
                command = Command(
                    f"o-1-{attempt}",
                    "u/plc/setpoint",
                    77.5,
                    user="op",
                    token=token,
                    time=time.time(),
                )
                bus.publish("cmd/u/plc/setpoint", encode_command(command))
                with contextlib.suppress(TimeoutError):
                    result = await asyncio.wait_for(results.get(), 2.0)
                    break
            else:
                raise AssertionError("no result for the command")
            assert result.state is CommandState.CONFIRMED, result
            assert result.value == 77.5
            await until(lambda: latest["u/plc/setpoint"].value == 77.5)

            viewer = Command(
                "o-2",
                "u/plc/setpoint",
                1.0,
                user="v",
                token=session("v", "viewer", node=here),
                time=time.time(),
            )
            bus.publish("cmd/u/plc/setpoint", encode_command(viewer))
            async with asyncio.timeout(5):
                while (refused := await results.get()).id != "o-2":
                    pass
            assert refused.state is CommandState.REJECTED
            assert "v may not write u/plc/setpoint" in refused.message
            await until(lambda: bool(statuses))
            # the recorder pairs each command with its result (give it the result)
            async with asyncio.timeout(5):
                while not any(e.outcome == "rejected" for e in audit.query()):
                    await asyncio.sleep(0.05)
            return {"status": statuses[-1], "audit": audit.query()}
        finally:
            await security.stop()
            await bus.close()
            audit.close()

    broker_args = ("broker", "--address", address, "--heartbeat", "0.2", "--no-beacon")
    node_log = tmp_path / "node.log"
    with (
        hmi_process(*broker_args, env=env, log=tmp_path / "broker.log"),
        hmi_process("node", str(project), "--broker", address, env=env, log=node_log),
    ):
        report = asyncio.run(main())
    out = node_log.read_text()
    assert "1 device (plc)" in out, out
    assert "Traceback" not in out, out
    status = report["status"]
    assert status["device"] == "plc" and status["connected"] and status["communicating"]
    rows = [(e.user, e.target, e.outcome) for e in report["audit"] if e.target]
    assert ("op", "u/plc/setpoint", "confirmed") in rows, rows
    assert ("v", "u/plc/setpoint", "rejected") in rows, rows


def test_hmi_opcua_browse_lists_nodes_and_writes_tags_hmi_check_accepts(
    node_opcua: NodeOpcUaServer, tmp_path: Path
) -> None:
    tags_file = tmp_path / "tags.yaml"
    browse = subprocess.run(
        [
            sys.executable,
            "-m",
            "hmi",
            "opcua",
            "browse",
            node_opcua.endpoint,
            "ns=1;i=1000",
            "--tags",
            str(tags_file),
            "--device",
            "plc2",
            "--prefix",
            "area2/plc2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert browse.returncode == 0, browse.stderr
    assert "Temperature  [Variable]  ns=1;s=Temperature  Double" in browse.stdout
    assert "Setpoint  [Variable]  ns=1;s=Setpoint  Double = 10.0  rw" in browse.stdout
    tags = yaml.safe_load(tags_file.read_text())
    by_name = {t["name"]: t for t in tags}
    assert by_name["area2/plc2/level"] == {
        "name": "area2/plc2/level",
        "device": "plc2",
        "address": "ns=1;s=Level",
        "type": "float32",
    }
    assert by_name["area2/plc2/running"]["type"] == "bool"
    assert all("write_roles" not in t for t in tags)  # deny by default

    project = tmp_path / "browsed.yaml"
    project.write_text(
        yaml.safe_dump(
            {
                "name": "browsed",
                "devices": [{"name": "plc2", "protocol": "opcua", "endpoint": node_opcua.endpoint}],
                "tags": tags,
            }
        )
    )
    check = subprocess.run(
        [sys.executable, "-m", "hmi", "check", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr

    # a server that is not there: a plain answer, no traceback
    gone = subprocess.run(
        [sys.executable, "-m", "hmi", "opcua", "browse", "opc.tcp://127.0.0.1:9/none"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gone.returncode == 1
    assert gone.stderr.startswith("hmi opcua browse: cannot connect to opc.tcp://127.0.0.1:9/none")
    assert "Traceback" not in gone.stderr

    # a node the server does not have, and an endpoint that is not OPC UA: plain answers
    # (the first said "None is not a valid NodeClass"; the second browsed as if opc.tcp)
    nope = subprocess.run(
        [sys.executable, "-m", "hmi", "opcua", "browse", node_opcua.endpoint, "ns=1;s=Nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert nope.returncode == 1
    assert nope.stderr.strip() == (
        "hmi opcua browse: ns=1;s=Nope: the server has no such node (BadNodeIdUnknown)"
    )
    http = node_opcua.endpoint.replace("opc.tcp://", "http://")
    scheme = subprocess.run(
        [sys.executable, "-m", "hmi", "opcua", "browse", http],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert scheme.returncode == 2
    assert scheme.stderr.strip() == (
        f"hmi opcua browse: expected opc.tcp://HOST:PORT[/PATH], found {http!r}"
    )
