"""``hmi broker`` and ``hmi keys`` as a user runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from hmi.bus import connect
from hmi.bus.broker import BROKER_NICE
from hmi.bus.net.keys import KeyPair
from hmi.bus.wire.samples import encode_samples
from hmi.core import Sample

from .conftest import free_udp_port


def test_hmi_keys_generate_and_show(tmp_path):
    run = [sys.executable, "-m", "hmi", "keys"]
    out = subprocess.run(
        [*run, "generate", "broker", "node", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    public = KeyPair.load(tmp_path / "broker.key").public
    assert public in out
    assert KeyPair.load(tmp_path / "node.key_secret").secret
    again = subprocess.run(
        [*run, "generate", "broker", "--dir", str(tmp_path)], capture_output=True
    )
    assert again.returncode == 1  # never overwrites a secret
    shown = subprocess.run(
        [*run, "show", str(tmp_path / "broker.key")], capture_output=True, text=True
    )
    assert public in shown.stdout


def test_hmi_broker_routes_and_prints_statistics(address):
    udp = free_udp_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hmi",
            "broker",
            "--address",
            address,
            "--heartbeat",
            "0.2",
            "--beacon-port",
            str(udp),
            "--stats",
            "table",
            "--stats-interval",
            "0.3",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )

    def nice_of_threads():
        """{thread id: nice} of the broker process (Linux)."""
        out = {}
        for tid in os.listdir(f"/proc/{proc.pid}/task"):
            with open(f"/proc/{proc.pid}/task/{tid}/stat") as f:
                out[int(tid)] = int(f.read().rsplit(")", 1)[1].split()[16])
        return out

    async def main():
        pub = await connect(address, name="pub", heartbeat=0.2, wait=15)
        if sys.platform == "linux":
            # its Python thread only keeps books behind the proxy: it yields the CPU to
            # the proxy thread (and to the nodes) under contention
            nice = nice_of_threads()
            assert nice.pop(proc.pid) == BROKER_NICE
            # the proxy thread (started first) keeps its priority, as do ZeroMQ's I/O and
            # reaper threads
            assert list(nice.values()).count(0) >= 3, nice
        sub = await connect(address, name="sub", heartbeat=0.2, wait=15)
        got = []
        sub.subscribe("tag/#", lambda t, p: got.append(p))
        await asyncio.sleep(0.2)
        for i in range(50):
            pub.publish("tag/line1/plc", encode_samples({"line1/p/x": Sample(float(i))}))
            await asyncio.sleep(0.01)
        while len(got) < 50:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.8)  # a few statistics intervals
        await pub.close()
        await sub.close()

    try:
        asyncio.run(asyncio.wait_for(main(), 30))
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "tag/line1/plc" in out
    assert "msgs/s" in out and "kB/s" in out and "cpu%" in out and "mem%" in out
    assert out.count("| hmi broker ") >= 2  # redrawn every interval: a live view
    # connected nodes are listed with their process, state and usage
    rows = [line for line in out.splitlines() if line.startswith("| pub-")]
    assert rows and " up " in rows[-1]
    # the topic's rate was shown while it was busy
    rates = [line.split()[-2] for line in out.splitlines() if line.startswith("| tag/line1/plc")]
    assert any(float(rate) > 0 for rate in rates)


def test_hmi_broker_reads_the_discovery_key_where_nodes_do():
    from hmi.bus.net import discovery
    from hmi.commands import broker

    assert broker.KEY_ENV == discovery.KEY_ENV  # (the command does not import the bus)


def test_hmi_broker_answers_probes_as_the_projects_bus_section_says(tmp_path):
    """On a network address, with the public default discovery key: a project whose nodes
    do not use discovery (``bus.discovery: false``) starts its broker without a beacon; one
    whose nodes do is refused until the plant has a key of its own."""
    import yaml

    from .conftest import free_port_pair

    demo = Path(__file__).parents[2] / "examples" / "demo-plant.yaml"
    data = yaml.safe_load(demo.read_text())
    port = free_port_pair()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMI_")}
    env["HMI_STATE_DIR"] = str(tmp_path / "state")
    for discovery in (True, False):
        data["bus"] = {"mode": "broker", "broker": f"tcp://0.0.0.0:{port}", "discovery": discovery}
        project = tmp_path / f"plant-{discovery}.yaml"
        project.write_text(yaml.safe_dump(data, sort_keys=False))
        command = [sys.executable, "-m", "hmi", "broker", str(project), "--quiet"]
        if discovery:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
            assert done.returncode == 2 and "default discovery key" in done.stderr
            continue
        proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        try:
            assert proc.stderr is not None
            for line in proc.stderr:  # (ends when the process does)
                if f"front tcp://0.0.0.0:{port}" in line:
                    break
            assert proc.poll() is None, "the broker did not start"
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(30) == 0
