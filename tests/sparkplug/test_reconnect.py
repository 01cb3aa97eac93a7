"""Mosquitto restarted under a running edge node: it reconnects by itself and is born
again with the next ``bdSeq`` (the NDEATH of its new will carries it too), as Eclipse
Tahu's codec decodes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hmi.bus import Bus, Supervisor
from hmi.drivers.sparkplug.edge_actor import SparkplugEdge
from hmi.project import parse_project
from tests.sparkplug.peers import Mosquitto, metrics_of, need, tahu_host


@pytest.mark.timeout(60)
def test_a_restarted_broker_gets_new_births_with_the_next_bdseq(tmp_path: Path) -> None:
    need("mosquitto")
    (tmp_path / "one").mkdir()
    first = Mosquitto(tmp_path / "one")
    port = first.port
    text = f"""\
name: Restart
tags:
  - {{name: area1/t101/level, type: float64}}
sparkplug: {{broker: "mqtt://127.0.0.1:{port}", group: g, edge_node: e}}
"""
    project = parse_project(text, tmp_path / "plant.yaml")
    second: Mosquitto | None = None

    async def scenario() -> None:
        nonlocal second
        bus = Bus.local()
        supervisor = Supervisor(bus)
        edge = SparkplugEdge(project)
        await supervisor.start(edge)
        link = edge.link
        assert link is not None
        try:
            await asyncio.wait_for(link.up.wait(), 10)
            assert (edge.births, edge.node.bdseq) == (1, 0)
            first.stop()
            async with asyncio.timeout(10):  # the other process is gone: its socket says so
                while link.connected:
                    await asyncio.sleep(0.02)
            (tmp_path / "two").mkdir()
            second = Mosquitto(tmp_path / "two", port=port)
            host = tahu_host(second, "g", tmp_path / "host.log")
            try:
                await asyncio.wait_for(link.up.wait(), 20)
                assert edge.node.bdseq == 1
                # the host may have subscribed after the new births: it asks for them
                host.send(
                    op="ncmd",
                    edge="e",
                    metrics=[{"name": "Node Control/Rebirth", "type": "Boolean", "value": True}],
                )
                nbirth = await asyncio.to_thread(
                    host.expect, lambda m: m.get("topic") == "spBv1.0/g/NBIRTH/e"
                )
                assert metrics_of(nbirth)["bdSeq"]["value"] == 1
                assert edge.births >= 2
            finally:
                host.stop()
        finally:
            await supervisor.stop()
            await bus.close()

    try:
        asyncio.run(scenario())
    finally:
        first.stop()
        if second is not None:
            second.stop()
