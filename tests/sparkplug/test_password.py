"""A Sparkplug device whose MQTT password cannot be read is a device that cannot connect:
its tags BAD saying why, its status (and so its communication alarm) too, a write refused
at once. Its line's task died with "Task exception was never retrieved" instead, leaving
the tags "waiting for the birth" and nothing saying why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hmi.core.command import Command, CommandState
from hmi.core.quality import Reason, Severity
from hmi.drivers.manager import DriverManager
from hmi.project import parse_project
from tests.drivers.helpers import RecordingSink

PROJECT = """\
name: unreadable password
devices:
  - name: site-b
    protocol: sparkplug
    broker: mqtt://127.0.0.1:1
    group: site-b
    edge_node: tahu-edge
    username: hmi
    password_file: secrets/site-b.password
tags:
  - {name: siteb/t/temp, type: float64, device: site-b, address: temp, write_roles: [operator]}
"""


@pytest.mark.timeout(30)
def test_an_unreadable_password_file_is_the_devices_error(tmp_path: Path) -> None:
    project = parse_project(PROJECT, tmp_path / "p.yaml")
    missing = tmp_path / "secrets" / "site-b.password"
    why = f"site-b: cannot read the password file {missing}: No such file or directory"

    async def main() -> None:
        sink = RecordingSink()
        manager = DriverManager.for_project(project, sink, status_interval=0.05)
        await manager.start()
        try:
            await sink.wait(lambda: "site-b" in sink.statuses)
            temp = sink.latest["siteb/t/temp"]
            assert temp.quality.severity is Severity.BAD
            assert temp.quality.reason is Reason.NOT_CONNECTED
            assert temp.quality.detail == why
            status = sink.statuses["site-b"]
            assert not status.connected and not status.communicating
            assert status.last_error == why
            result = await manager.write(
                Command("w1", "siteb/t/temp", 21.0, roles=frozenset({"operator"}))
            )
            assert result.state is CommandState.FAILED, result
        finally:
            await manager.stop()

    asyncio.run(main())
