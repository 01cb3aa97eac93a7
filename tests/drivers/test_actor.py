"""The driver actor on an in-memory bus: batches, commands/results, RPC, calculated tags."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from hmi.bus import Bus, Supervisor
from hmi.bus.wire.messages import decode_result, encode_command
from hmi.bus.wire.samples import decode_samples
from hmi.core.command import Command, CommandState
from hmi.core.quality import Severity
from hmi.drivers.actor import DriverActor
from hmi.project import load_project
from tests.drivers.helpers import (
    datastore,
    free_port,
    install_authorizer,
    local_verifier,
    pymodbus_server,
    session,
)

PROJECT = """\
name: actor test
poll_groups: {{fast: 0.05}}
devices:
  - name: plc
    port: {port}
    timeout: 0.2
    retries: 0
tags:
  - name: a/t/level
    type: uint16
    device: plc
    address: hr:0
    poll_group: fast
  - name: a/t/volume
    expression: "{{a/t/level}} * 2"
  - name: a/v/cmd
    type: uint16
    device: plc
    address: hr:10
    poll_group: fast
    write_roles: [operator]
"""


def test_actor_publishes_writes_and_manages_devices(tmp_path: Path) -> None:
    async def main() -> None:
        port, port2 = free_port(), free_port()
        path = tmp_path / "p.yaml"
        path.write_text(PROJECT.format(port=port))
        project = load_project(path)
        bus = Bus.local()
        refusals = install_authorizer(bus)
        latest: dict[str, Any] = {}
        results: asyncio.Queue[Any] = asyncio.Queue()
        changed = asyncio.Event()

        def on_tags(topic: str, payload: Any) -> None:
            latest.update(decode_samples(payload))
            changed.set()

        async def until(cond: Any) -> None:
            async with asyncio.timeout(3):
                while not cond():
                    changed.clear()
                    await changed.wait()

        bus.subscribe("tag/#", on_tags)
        bus.subscribe("result/#", lambda t, p: results.put_nowait(decode_result(p)))
        bus.subscribe("$sys/device/#", lambda t, p: changed.set())
        context = datastore(hr=[21] * 200)
        server1, server2 = pymodbus_server(port, context), pymodbus_server(port2, datastore())
        async with server1, server2, Supervisor(bus) as sup:
            await sup.start(DriverActor(project, verify=local_verifier()))
            await until(lambda: "a/t/volume" in latest)
            assert latest["a/t/level"].value == 21
            assert latest["a/t/volume"].value == 42
            assert latest["a/t/volume"].quality.severity is Severity.GOOD

            token = session("op", "operator")
            cmd = Command("c1", "a/v/cmd", 7, user="op", token=token, time=time.time())
            bus.publish("cmd/a/v/cmd", encode_command(cmd))
            result = await asyncio.wait_for(results.get(), 3)
            assert result.state is CommandState.CONFIRMED, result
            assert context.getValues(3, 10, 1) == [7]

            device = {"name": "plc2", "port": port2, "timeout": 0.2}
            tag = {
                "name": "b/x/y",
                "device": "plc2",
                "address": "hr:1",
                "type": "uint16",
                "poll_group": "fast",
            }
            engineer = session("eve", "engineer")
            await bus.call("drivers", "add_device", device, [tag], token=engineer, timeout=3)
            await until(lambda: "b/x/y" in latest)
            assert sorted(await bus.call("drivers", "devices", timeout=3)) == ["plc", "plc2"]
            await bus.call("drivers", "remove_device", "plc2", token=engineer, timeout=3)
            await until(lambda: latest["b/x/y"].quality.severity is Severity.BAD)
            assert refusals.rows == []

    asyncio.run(main())
