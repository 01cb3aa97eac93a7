"""A client written without the hmi package (plain pyzmq + msgpack) joins the bus.

It follows docs/bus-protocol.md only: it asks the broker for the current tag values,
receives live ones, sends a command that an hmi actor receives and decodes, and publishes
a sample batch on the fast path the broker's welcome names.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

from hmi.bus import Actor, Supervisor, connect
from hmi.bus.broker import Broker
from hmi.bus.wire.messages import decode_command
from hmi.bus.wire.samples import encode_samples
from hmi.core import Sample

CLIENT = textwrap.dedent(
    r"""
    import json, sys, time
    import msgpack, zmq

    front, back = sys.argv[1], sys.argv[2]
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.routing_id = b"foreign-1"           # = the sender id in our headers
    dealer.connect(front)
    sub = ctx.socket(zmq.SUB)
    sub.connect(back)
    sub.subscribe(b"tag/")

    seq = {}
    def send(topic, kind, payload):
        seq[topic] = seq.get(topic, 0) + 1
        header = msgpack.packb([1, kind, "foreign-1", seq[topic], time.time(), 0])
        dealer.send_multipart([topic.encode(), header, msgpack.packb(payload)])

    send("$sys/broker", 1, {"name": "foreign", "pid": 0, "host": "", "targets": []})  # HELLO
    send("$sys/snapshot", 3, "tag/")  # SNAPSHOT_REQ
    values = {}
    pub_endpoint = ""
    poller = zmq.Poller()
    poller.register(dealer, zmq.POLLIN)
    poller.register(sub, zmq.POLLIN)
    deadline = time.time() + 10
    while time.time() < deadline and not ("line1/pump/sp" in values and "live" in values):
        for sock, _ in poller.poll(100):
            topic, header, payload = sock.recv_multipart()
            version, kind, sender, s, t, flags = msgpack.unpackb(header)[:6]
            assert version == 1
            if kind == 1:  # the welcome
                pub_endpoint = msgpack.unpackb(payload).get("pub", "")
            if topic.startswith(b"tag/"):
                for name, value, quality, source_time in msgpack.unpackb(payload):
                    values[name] = value
                    if kind == 0 and name == "line1/pump/sp":
                        values["live"] = value
        if "line1/pump/sp" in values and "asked" not in values:
            values["asked"] = True
            print("READY", flush=True)  # the test now publishes a live value
    send("cmd/line1/pump/sp", 0, {"id": "f-1", "tag": "line1/pump/sp", "value": 55.0,
                                   "user": "bot", "roles": ["operator"]})
    if pub_endpoint:  # the fast path: an XPUB, used once the broker's subscription came
        port = pub_endpoint.rsplit(":", 1)[1]
        fast = ctx.socket(zmq.XPUB)
        fast.connect(front.rsplit(":", 1)[0] + ":" + port)
        assert fast.poll(5000) and fast.recv() == b"\x01"
        header = msgpack.packb([1, 0, "foreign-1", 1, time.time(), 0])
        batch = msgpack.packb([["foreign/x", 7.5, 0, time.time()]])
        fast.send_multipart([b"tag/foreign/plc", header, batch])
        values["fast"] = True
        time.sleep(0.3)
        fast.close()
    print(json.dumps({"values": values, "hmi": "hmi" in sys.modules}), flush=True)
    time.sleep(0.3)
    dealer.close(); sub.close(); ctx.term()
    """
)


class Writer(Actor):
    def __init__(self):
        super().__init__("writer")
        self.commands = []
        self.got = asyncio.Event()
        self.foreign = asyncio.Event()
        self.batches = []

    async def setup(self):
        self.subscribe("cmd/#", self.on_command)
        self.subscribe("tag/foreign/#", self.on_foreign)

    def on_command(self, topic, payload):
        self.commands.append(decode_command(payload))
        self.got.set()

    def on_foreign(self, topic, payload):
        self.batches.append(payload)
        self.foreign.set()


def test_a_client_without_hmi_reads_tags_and_sends_a_command(address):
    async def main():
        broker = Broker(address, heartbeat=0.2)
        await broker.start()
        driver = await connect(address, name="driver", heartbeat=0.2)
        sup = Supervisor(driver)
        writer = await sup.start(Writer())
        driver.publish("tag/line1/pump", encode_samples({"line1/pump/sp": Sample(40.0)}))
        while len(broker.cache) < 1:
            await asyncio.sleep(0.01)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLIENT,
            broker.address.front,
            broker.address.back,
            stdout=subprocess.PIPE,
        )
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 20)
            assert line.strip() == b"READY"
            for _ in range(50):  # until its SUB subscription reached the broker
                driver.publish("tag/line1/pump", encode_samples({"line1/pump/sp": Sample(41.0)}))
                try:
                    await asyncio.wait_for(writer.got.wait(), 0.1)
                    break
                except TimeoutError:
                    pass
            report = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
            await asyncio.wait_for(writer.got.wait(), 10)
            await asyncio.wait_for(writer.foreign.wait(), 10)
            assert await asyncio.wait_for(proc.wait(), 10) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await sup.stop()
            await driver.close()
            await broker.close()
        return report, writer.commands, writer.batches

    report, commands, batches = asyncio.run(main())
    assert report["hmi"] is False
    assert report["values"]["fast"] is True
    assert batches[0][0][:2] == ["foreign/x", 7.5]
    assert report["values"]["line1/pump/sp"] in (40.0, 41.0)
    assert report["values"]["live"] == 41.0
    (command,) = commands
    assert command.tag == "line1/pump/sp"
    assert command.value == 55.0
    assert command.roles == frozenset({"operator"})
