"""``hmi node project.yaml`` as a user runs it: headless drivers joined to ``hmi broker``.

Broker and node are separate processes; the Modbus device is pymodbus' server in this
process; a plain bus client (no actor, no GUI) subscribes to tags and sends commands, and
serves the security service the node verifies each command's session with.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hmi.bus import Supervisor, connect
from hmi.bus.wire.messages import decode_result, encode_command
from hmi.bus.wire.samples import decode_samples
from hmi.core.command import Command, CommandState
from hmi.core.quality import Severity
from hmi.services.audit import AuditLog
from hmi.services.security import Security
from hmi.services.security_actor import AuditRecorder, SecurityActor
from tests.bus.conftest import free_port_pair
from tests.drivers.helpers import KEY, datastore, free_port, pymodbus_server, session

PROJECT = """\
name: node test
poll_groups: {{fast: 0.1}}
devices:
  - name: plc
    port: {port}
    timeout: 0.3
    retries: 0
tags:
  - name: n/tank/level
    type: uint16
    device: plc
    address: hr:1
    poll_group: fast
  - name: n/tank/temp
    type: uint16
    device: plc
    address: hr:2
    poll_group: fast
  - name: n/pump/speed
    type: uint16
    device: plc
    address: hr:10
    poll_group: fast
    write_roles: [operator]
"""


@contextlib.contextmanager
def hmi_process(*args: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m hmi ARGS`` with its output in ``log``; interrupted (Ctrl-C) and reaped
    at the end, killed if stuck."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hmi", *args], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_hmi_node_publishes_tag_batches_and_confirms_a_write(tmp_path: Path) -> None:
    modbus_port = free_port()
    address = f"tcp://127.0.0.1:{free_port_pair()}"
    project = tmp_path / "project.yaml"
    project.write_text(PROJECT.format(port=modbus_port))
    env = {**os.environ, "HMI_STATE_DIR": str(tmp_path / "state")}
    env.pop("HMI_BROKER", None)
    broker_args = ("broker", "--address", address, "--heartbeat", "0.2", "--no-beacon")
    node_args = ("node", str(project), "--broker", address)

    async def main(node: subprocess.Popen[bytes]) -> dict[str, Any]:
        registers = [0] * 200
        registers[1], registers[2], registers[10] = 1234, 56, 7
        context = datastore(hr=registers)
        async with pymodbus_server(modbus_port, context):
            bus = await connect(address, name="probe", heartbeat=0.2, wait=15)
            batches: list[dict[str, Any]] = []
            results: asyncio.Queue[Any] = asyncio.Queue()
            statuses: list[Any] = []
            got = asyncio.Event()

            def on_tags(topic: str, payload: Any) -> None:
                batches.append(decode_samples(payload))
                got.set()

            async def until(condition: Any, timeout: float = 15.0) -> None:
                async with asyncio.timeout(timeout):
                    while not condition():
                        got.clear()
                        await got.wait()

            async def result_of(command_id: str) -> Any:
                # a command repeated until the node's subscription was active may be
                # answered more than once: skip to this command's result
                async with asyncio.timeout(5):
                    while (result := await results.get()).id != command_id:
                        pass
                return result

            def latest(name: str) -> Any:
                return next((b[name] for b in reversed(batches) if name in b), None)

            bus.subscribe("tag/#", on_tags)
            bus.subscribe("result/#", lambda t, p: results.put_nowait(decode_result(p)))
            # wakes `until` too: a stable plant publishes no tag batch to wake it
            bus.subscribe("$sys/device/#", lambda t, p: (statuses.append(p), got.set()))
            security = Supervisor(bus)
            service = Security({}, KEY, None, clock=time.time)
            await security.start(SecurityActor(service))
            # the node records each write before it sends it: the audit service must be there
            await security.start(AuditRecorder(AuditLog(tmp_path / "audit.sqlite"), service))
            try:
                # the node polls the device and publishes each scan as one batch
                await until(lambda: latest("n/tank/level") is not None)
                first = next(b for b in batches if "n/tank/level" in b)
                assert {"n/tank/level", "n/tank/temp", "n/pump/speed"} <= first.keys()
                assert latest("n/tank/level").value == 1234
                assert latest("n/tank/level").quality.severity is Severity.GOOD

                # a change on the device reaches the subscriber
                context.setValues(3, 2, [57])
                await until(lambda: latest("n/tank/temp").value == 57, timeout=5)

                # a command through the broker, its session (logged in on this node)
                # verified by the security service through the broker: written, read
                # back, confirmed
                here = getattr(bus.transport, "node_id", "")
                token = session("op", "operator", node=here)
                for attempt in range(50):  # until the node's subscription reached the broker
                    # a new id each time: a command id is carried out once only
                    command = Command(
                        f"n-1-{attempt}",
                        "n/pump/speed",
                        42,
                        user="op",
                        token=token,
                        time=time.time(),
                    )
                    bus.publish("cmd/n/pump/speed", encode_command(command))
                    with contextlib.suppress(TimeoutError):
                        result = await asyncio.wait_for(results.get(), 0.3)
                        break
                else:
                    raise AssertionError("no result for the command")
                assert result.id.startswith("n-1-")
                assert result.state is CommandState.CONFIRMED, result
                assert result.value == 42
                assert context.getValues(3, 10, 1) == [42]  # the register on the device
                await until(lambda: latest("n/pump/speed").value == 42, timeout=5)

                # a command the grants refuse (a viewer may not write)
                viewer_token = session("v", "viewer", node=here)
                viewer = Command(
                    "n-2", "n/pump/speed", 1, user="v", token=viewer_token, time=time.time()
                )
                bus.publish("cmd/n/pump/speed", encode_command(viewer))
                refused = await result_of("n-2")
                assert refused.state is CommandState.REJECTED, refused
                assert "v may not write n/pump/speed" in refused.message
                assert context.getValues(3, 10, 1) == [42]

                # no session, claiming the operator role: refused, nothing written
                roles = frozenset({"operator"})
                crafted = Command(
                    "n-3", "n/pump/speed", 2, user="op", roles=roles, time=time.time()
                )
                bus.publish("cmd/n/pump/speed", encode_command(crafted))
                refused = await result_of("n-3")
                assert refused.state is CommandState.REJECTED, refused
                assert "not logged in" in refused.message
                assert context.getValues(3, 10, 1) == [42]

                await until(lambda: bool(statuses), timeout=5)

                # Ctrl-C stops the node cleanly and soon, while its device still answers
                node.send_signal(signal.SIGINT)
                await asyncio.to_thread(node.wait, 10)
                return {"status": statuses[-1]}
            finally:
                await security.stop()
                await bus.close()

    node_log = tmp_path / "node.log"
    with (
        hmi_process(*broker_args, env=env, log=tmp_path / "broker.log"),
        hmi_process(*node_args, env=env, log=node_log) as node,
    ):
        report = asyncio.run(main(node))
    out = node_log.read_text()
    assert node.returncode == 0, out
    assert "1 device (plc)" in out, out
    assert "Traceback" not in out and "unexpected error" not in out, out
    status = report["status"]
    assert status["device"] == "plc"
    assert status["connected"] is True
    assert status["communicating"] is True
