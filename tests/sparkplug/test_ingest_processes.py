"""Ingest through the real commands: ``hmi broker`` and ``hmi node`` of an enterprise
project whose device is a foreign Sparkplug B edge node (Eclipse Tahu's JavaScript
``sparkplug-client``) on Mosquitto. What a station would see, read off the bus by a node
of its own: the node's values GOOD, then BAD when it dies without a word, and the device's
status saying so."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hmi.bus import connect, decode_samples
from hmi.core.quality import Reason, Severity
from hmi.core.sample import Sample
from tests.bus.conftest import free_port_pair
from tests.deploy.processes import Command as Process
from tests.deploy.processes import environment, processes
from tests.sparkplug.peers import mosquitto, node_peer

pytestmark = pytest.mark.slow

G, E, D = "site-b", "tahu-edge", "plc7"


def enterprise(folder: Path, bus_port: int, mqtt: str) -> Path:
    path = folder / "enterprise.yaml"
    path.write_text(
        f"""\
name: Enterprise
builtin_screens: false
bus: {{mode: broker, broker: "tcp://127.0.0.1:{bus_port}", discovery: false,
       heartbeat_interval: 0.3}}
devices:
  - {{name: site-b, protocol: sparkplug, broker: "{mqtt}", group: {G}, edge_node: {E},
     device: {D}}}
tags:
  - {{name: siteb/plc7/temp, device: site-b, address: temp, type: float64}}
  - {{name: siteb/plc7/label, device: site-b, address: label, type: string}}
"""
    )
    return path


@pytest.mark.timeout(120)
def test_hmi_node_ingests_a_foreign_edge_node_and_its_death(tmp_path: Path) -> None:
    bus_port = free_port_pair()
    env = environment(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    with mosquitto(tmp_path) as mqtt:
        project = enterprise(tmp_path, bus_port, mqtt.url)
        edge = node_peer("edge.js", mqtt.url, G, E, D, log=logs / "edge.log")
        try:
            with processes() as started:
                for name, *args in (
                    ("broker", "broker", str(project), "--quiet"),
                    ("node", "node", str(project), "--name", "enterprise-drivers"),
                ):
                    started.append(Process(name, *args, env=env, log=logs / f"{name}.log"))
                started[1].wait_for("ready", 60)
                asyncio.run(_watch(bus_port, edge))
        finally:
            edge.stop()


async def _watch(bus_port: int, edge: Any) -> None:
    bus = await connect(f"tcp://127.0.0.1:{bus_port}", name="watcher")
    values: dict[str, Sample] = {}
    statuses: dict[str, Any] = {}
    changed = asyncio.Event()

    def on_samples(topic: str, payload: Any) -> None:
        values.update(decode_samples(payload))
        changed.set()

    def on_status(topic: str, payload: Any) -> None:
        statuses[topic.rsplit("/", 1)[-1]] = payload
        changed.set()

    async def until(check: Any, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                changed.clear()
                await changed.wait()

    bus.subscribe("tag/#", on_samples)
    bus.subscribe("$sys/device/#", on_status)
    try:
        await until(lambda: values.get("siteb/plc7/label", Sample(None)).value == "ready")
        assert values["siteb/plc7/temp"].value == 21.5
        assert values["siteb/plc7/temp"].quality.severity is Severity.GOOD
        await until(lambda: statuses.get("site-b", {}).get("communicating") is True)

        edge.send(op="crash")  # Mosquitto publishes its will: NDEATH
        await until(lambda: values["siteb/plc7/temp"].quality.severity is Severity.BAD)
        temp = values["siteb/plc7/temp"]
        assert temp.quality.reason is Reason.NO_COMMUNICATION
        assert "dead (NDEATH)" in temp.quality.detail
        assert temp.value == 21.5
        await until(lambda: statuses["site-b"]["communicating"] is False)
        assert "not born (or dead)" in statuses["site-b"]["last_error"]
    finally:
        await bus.close()
