"""The broker's live statistics on ``$sys/stats`` and the table ``hmi broker`` shows."""

from __future__ import annotations

import asyncio
import os
import time

from hmi.bus import connect
from hmi.bus.broker import Broker
from hmi.bus.broker.brokerstats import BrokerStats, NodeInfo, render, report
from hmi.bus.wire.samples import encode_samples
from hmi.core import Sample

from .test_zmq_bus import until


def test_sys_stats_report_topic_rates_nodes_and_their_cpu_and_memory(address):
    """A node watching ``$sys/stats`` sees per-topic msgs/s and kB/s, the nodes with their
    process, cpu and memory (same machine), and the table shows the same figures."""

    async def main():
        broker = Broker(address, heartbeat=0.1, stats_interval=0.5)
        await broker.start()
        driver = await connect(address, name="driver", heartbeat=0.1)
        viewer = await connect(address, name="viewer", heartbeat=0.1)
        reports = []
        viewer.subscribe("$sys/stats", lambda t, p: reports.append(p))
        try:
            payload = encode_samples({f"line1/p/x{i}": Sample(float(i)) for i in range(20)})
            loop = asyncio.get_running_loop()
            end = loop.time() + 1.6
            while loop.time() < end:  # 100 messages/s, ~0.6 kB each
                driver.publish("tag/line1/plc", payload)
                await asyncio.sleep(0.01)

            def busy(report):
                return report["topics"].get("tag/line1/plc", [0, 0])[0] > 0

            await until(lambda: any(busy(r) for r in reports))
            report = [r for r in reports if busy(r)][-1]
        finally:
            await driver.close()
            await viewer.close()
            await broker.close()
        return report

    report = asyncio.run(main())
    msgs, kbytes = report["topics"]["tag/line1/plc"]
    assert 20 < msgs < 200  # ~100/s, on a loaded machine
    assert 0.3 * msgs * 0.6 < kbytes < 3 * msgs * 0.6
    assert report["messages"] >= 50
    assert report["cached_tags"] == 20
    nodes = {n["name"]: n for n in report["nodes"]}
    assert {"driver", "viewer"} <= set(nodes)
    driver = nodes["driver"]
    assert driver["pid"] == os.getpid()
    assert driver["alive"] is True
    assert driver["messages"] >= 50
    assert isinstance(driver["cpu"], float)
    assert isinstance(driver["mem"], float) and driver["mem"] > 0
    assert isinstance(report["cpu"], float) and isinstance(report["mem"], float)

    table = render(report)
    line = next(row for row in table.splitlines() if "tag/line1/plc" in row)
    assert f"{msgs:.1f}" in line and f"{kbytes:.2f}" in line
    assert "kB/s" in table and "cpu%" in table and "mem%" in table
    row = next(r for r in table.splitlines() if r.startswith(f"| {driver['id'][:30]}"))
    assert str(os.getpid()) in row and f"{driver['mem']:.2f}" in row and " up " in row


def test_the_brokers_own_cpu_is_what_it_used_since_the_last_report():
    """Issue 17: ``cpu`` was always 0.0 (psutil's cpu_percent on a new object each time
    measures nothing). Half a CPU-second-per-second of work shows; an idle interval not."""
    stats = BrokerStats()
    report(stats, [], "b", {})  # (an interval starts)
    work = time.process_time() + 0.1
    while time.process_time() < work:  # busy: this process is the broker here
        pass
    busy = report(stats, [], "b", {})["cpu"]
    assert busy > 30.0, busy
    mem = report(stats, [], "b", {})["mem"]
    assert isinstance(mem, float) and mem > 0


def test_the_table_shows_a_node_without_a_hello_as_neither_up_nor_dead():
    stats = BrokerStats()
    node = NodeInfo(b"mute", "mute", messages=3)  # (alive while it talks, no HELLO)
    data = report(stats, [node], "b", {})
    assert data["nodes"][0]["alive"] is False and data["nodes"][0]["hello"] is False
    row = next(r for r in render(data).splitlines() if r.startswith("| mute"))
    assert " anon " in row
