"""``protocol: sparkplug`` devices through the driver manager, as ``hmi node`` runs them:
a foreign edge node (Eclipse Tahu's JavaScript client) read into tags with the device's
status, and a write as a DCMD confirmed by its read-back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from hmi.core.command import Command, CommandState
from hmi.core.quality import Reason, Severity
from hmi.core.sample import Sample
from hmi.drivers.manager import DriverManager
from hmi.drivers.status import DeviceStatus
from hmi.project import parse_project
from tests.sparkplug.peers import mosquitto, node_peer

G, E, D = "site-b", "tahu-edge", "plc7"


def project_text(url: str) -> str:
    return f"""\
name: Enterprise view
devices:
  - name: site-b
    protocol: sparkplug
    broker: {url}
    group: {G}
    edge_node: {E}
    device: {D}
tags:
  - {{name: siteb/plc7/temp, device: site-b, address: temp, type: float64,
      write_roles: [operator]}}
  - {{name: siteb/plc7/count, device: site-b, address: count, type: int32}}
  - {{name: siteb/plc7/total, device: site-b, address: total, type: uint64}}
"""


class Recorder:
    """The manager's sink."""

    def __init__(self) -> None:
        self.values: dict[str, Sample] = {}
        self.statuses: dict[str, DeviceStatus] = {}
        self.history: list[DeviceStatus] = []
        self.changed = asyncio.Event()

    def samples(self, batch: Mapping[str, Sample]) -> None:
        self.values.update(batch)
        self.changed.set()

    def status(self, status: DeviceStatus) -> None:
        self.statuses[status.device] = status
        self.history.append(status)
        self.changed.set()

    async def until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                self.changed.clear()
                await self.changed.wait()


@pytest.mark.timeout(60)
def test_sparkplug_devices_run_behind_the_driver_interface(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:
        path = tmp_path / "enterprise.yaml"
        path.write_text(project_text(broker.url))
        project = parse_project(path.read_text(), path)
        edge = node_peer("edge.js", broker.url, G, E, D, log=tmp_path / "edge.log")
        try:

            async def scenario() -> None:
                sink = Recorder()
                manager = DriverManager.for_project(project, sink, status_interval=0.2)
                await manager.start()
                try:
                    # before the birth: BAD, not connected
                    assert sink.values["siteb/plc7/temp"].quality.reason is Reason.NOT_CONNECTED
                    await sink.until(lambda: sink.values["siteb/plc7/temp"].value == 21.5)
                    assert sink.values["siteb/plc7/count"].value == -5
                    assert sink.values["siteb/plc7/total"].value == 12345678901
                    await sink.until(
                        lambda: "site-b" in sink.statuses and sink.statuses["site-b"].communicating
                    )
                    assert sink.statuses["site-b"].connected
                    # while the birth was on its way, no status said the device failed (a
                    # status without an error raises no communication alarm at start)
                    assert all(s.last_error == "" for s in sink.history if s.connected)

                    command = Command(
                        id=uuid.uuid4().hex,
                        tag="siteb/plc7/temp",
                        value=30.25,
                        user="op",
                        roles=frozenset({"operator"}),
                        time=time.time(),
                    )
                    result = await manager.submit(command)
                    assert result.state is CommandState.CONFIRMED, result.message
                    assert result.value == 30.25
                    assert sink.values["siteb/plc7/temp"].value == 30.25

                    refused = await manager.submit(
                        Command(
                            id=uuid.uuid4().hex,
                            tag="siteb/plc7/temp",
                            value="hot",
                            roles=frozenset({"operator"}),
                            time=time.time(),
                        )
                    )
                    assert refused.state is CommandState.REJECTED

                    edge.send(op="crash")
                    await sink.until(
                        lambda: sink.values["siteb/plc7/temp"].quality.severity is Severity.BAD
                    )
                    await sink.until(lambda: not sink.statuses["site-b"].communicating)
                    assert "not born (or dead)" in sink.statuses["site-b"].last_error
                finally:
                    await manager.stop()

            asyncio.run(scenario())
        finally:
            edge.stop()


@pytest.mark.timeout(60)
def test_an_edge_node_that_never_answers_is_a_failure_after_the_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hmi.drivers.sparkplug import line

    monkeypatch.setattr(line, "BIRTH_GRACE", 0.5)
    with mosquitto(tmp_path) as broker:
        path = tmp_path / "enterprise.yaml"
        path.write_text(project_text(broker.url))
        project = parse_project(path.read_text(), path)

        async def scenario() -> None:
            sink = Recorder()
            manager = DriverManager.for_project(project, sink, status_interval=0.1)
            await manager.start()
            try:
                await sink.until(
                    lambda: "site-b" in sink.statuses and sink.statuses["site-b"].connected
                )
                await sink.until(lambda: sink.statuses["site-b"].last_error != "")
                assert "not born (or dead)" in sink.statuses["site-b"].last_error
                assert not sink.statuses["site-b"].communicating
            finally:
                await manager.stop()

        asyncio.run(scenario())
