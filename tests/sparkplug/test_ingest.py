"""Ingest: an edge node we did not write (Eclipse Tahu's JavaScript ``sparkplug-client``)
read through Mosquitto into samples with quality: births, data, its device's death, its
own death (the MQTT will), and a node gone silent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from hmi.core.quality import Reason, Severity
from hmi.core.sample import Sample
from hmi.drivers.sparkplug.host import Binding
from hmi.drivers.sparkplug.ingest import SparkplugIngest
from hmi.drivers.sparkplug.mqtt import MqttSettings
from tests.sparkplug.peers import mosquitto, node_peer

G, E, D = "site-b", "tahu-edge", "plc7"
TAGS = {
    "siteb/plc7/count": "count",
    "siteb/plc7/temp": "temp",
    "siteb/plc7/ok": "ok",
    "siteb/plc7/label": "label",
    "siteb/plc7/total": "total",
}


class Collected:
    """Samples as the ingest hands them over; a test awaits a condition on them."""

    def __init__(self) -> None:
        self.samples: dict[str, Sample] = {}
        self.changed = asyncio.Event()

    def __call__(self, batch: dict[str, Sample]) -> None:
        self.samples.update(batch)
        self.changed.set()

    async def until(
        self, check: Callable[[dict[str, Sample]], bool], timeout: float = 10.0
    ) -> None:
        async with asyncio.timeout(timeout):
            while not check(self.samples):
                self.changed.clear()
                await self.changed.wait()


def ingest_of(url: str, collected: Collected, stale_after: float = 0.0) -> SparkplugIngest:
    ingest = SparkplugIngest(
        MqttSettings.parse(url, client_id="hmi-ingest-test"), collected, stale_after=stale_after
    )
    ingest.bind(Binding(tag, G, E, D, metric) for tag, metric in TAGS.items())
    return ingest


@pytest.mark.timeout(60)
def test_a_foreign_edge_node_becomes_tags_with_quality_from_its_deaths(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:
        edge = node_peer("edge.js", broker.url, G, E, D, log=tmp_path / "edge.log")
        try:
            edge.expect(lambda line: line.get("born") == 1)

            async def scenario() -> None:
                collected = Collected()
                ingest = ingest_of(broker.url, collected)
                ingest.start()
                try:
                    # it was born before we came: our rebirth request brings its births
                    await collected.until(lambda s: len(s) == len(TAGS))
                    s = collected.samples
                    assert s["siteb/plc7/count"].value == -5
                    assert s["siteb/plc7/temp"].value == 21.5
                    assert s["siteb/plc7/ok"].value is True
                    assert s["siteb/plc7/label"].value == "ready"
                    assert s["siteb/plc7/total"].value == 12345678901
                    assert all(x.quality.severity is Severity.GOOD for x in s.values())
                    assert ingest.rebirths_asked == 1

                    edge.send(op="data", metrics=[{"alias": 2, "type": "Double", "value": 22.75}])
                    await collected.until(lambda s: s["siteb/plc7/temp"].value == 22.75)
                    assert ingest.state.gaps == 0

                    edge.send(op="ddeath")
                    await collected.until(
                        lambda s: s["siteb/plc7/temp"].quality.severity is Severity.BAD
                    )
                    assert "plc7 dead (DDEATH)" in s["siteb/plc7/temp"].quality.detail
                    assert s["siteb/plc7/temp"].value == 22.75  # never blanked

                    edge.send(op="crash")  # gone without a word: Mosquitto sends its will
                    await collected.until(
                        lambda s: "NDEATH" in s["siteb/plc7/label"].quality.detail
                    )
                    label = collected.samples["siteb/plc7/label"]
                    assert label.quality.reason is Reason.NO_COMMUNICATION
                    assert label.value == "ready"
                    assert not ingest.state.online(G, E)
                finally:
                    await ingest.stop()

            asyncio.run(scenario())
        finally:
            edge.stop()


@pytest.mark.timeout(60)
def test_a_silent_edge_node_turns_uncertain(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:

        async def scenario() -> None:
            collected = Collected()
            ingest = ingest_of(broker.url, collected, stale_after=0.4)
            ingest.start()
            await ingest.link.up.wait()
            edge = node_peer("edge.js", broker.url, G, E, D, log=tmp_path / "edge.log")
            try:
                await collected.until(lambda s: len(s) == len(TAGS))
                await collected.until(
                    lambda s: s["siteb/plc7/ok"].quality.severity is Severity.UNCERTAIN
                )
                assert (
                    "no message from site-b/tahu-edge"
                    in collected.samples["siteb/plc7/ok"].quality.detail
                )
                # heard again: GOOD for what it sends, and asked for the rest
                edge.send(op="data", metrics=[{"alias": 3, "type": "Boolean", "value": False}])
                await collected.until(lambda s: s["siteb/plc7/ok"].value is False)
                assert collected.samples["siteb/plc7/ok"].quality.severity is Severity.GOOD
                await asyncio.to_thread(edge.expect, lambda line: line.get("born") == 2)
            finally:
                edge.stop()
                await ingest.stop()

        asyncio.run(scenario())
