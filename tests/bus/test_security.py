"""CURVE: only listed keys connect; each key publishes only under its prefixes."""

from __future__ import annotations

import asyncio

import pytest

from hmi.bus import bind_store, connect
from hmi.bus.broker import Broker
from hmi.bus.net.auth import Policy
from hmi.bus.net.keys import ClientKeys, KeyPair, create_keys
from hmi.bus.wire.samples import encode_samples
from hmi.core import Quality, Reason, Sample, TagStore

from .test_zmq_bus import until


def curve_setup(tmp_path):
    """Keys for a broker, a driver, an HMI node and an intruder, and the broker's policy."""
    keys = tmp_path / "keys"
    for name in ("broker", "driver", "hmi", "intruder"):
        create_keys(keys, name)
    (tmp_path / "clients.yaml").write_text(
        "clients:\n"
        "  - {name: driver, key_file: keys/driver.key, publish: ['tag/', 'result/']}\n"
        "  - {name: hmi, key_file: keys/hmi.key, publish: ['cmd/']}\n"
    )
    policy = Policy.load(tmp_path / "clients.yaml")
    server = KeyPair.load(keys / "broker.key_secret")

    def client(name):
        return ClientKeys(KeyPair.load(keys / f"{name}.key_secret"), server.public)

    return server, policy, client


def test_curve_admits_listed_keys_and_enforces_publish_rights(tmp_path, address):
    server, policy, client = curve_setup(tmp_path)

    async def main():
        broker = Broker(address, heartbeat=0.1, secret=server, policy=policy)
        await broker.start()
        driver = await connect(address, name="driver", keys=client("driver"), heartbeat=0.1)
        hmi = await connect(address, name="hmi", keys=client("hmi"), heartbeat=0.1)
        try:
            with pytest.raises(ConnectionError):
                await connect(address, name="intruder", keys=client("intruder"), wait=0.5)
            assert broker.zap.counts["refused"] >= 1
            tags, cmds = [], []
            # the driver node hears tags only from itself: the hmi's forged one is refused
            driver.subscribe("tag/#", lambda t, p: tags.append(p))
            driver.subscribe("cmd/#", lambda t, p: cmds.append(p))
            await asyncio.sleep(0.2)
            hmi.publish("tag/line1/plc", [["line1/p/x", 666, 0, 0.0]])  # forged: refused
            driver.publish("tag/line1/plc", [["line1/p/x", 1, 0, 0.0]])
            hmi.publish("cmd/line1/p/sp", {"id": "1", "tag": "line1/p/sp", "value": 2})
            for _ in range(200):
                if tags and cmds:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            assert tags == [[["line1/p/x", 1, 0, 0.0]]]
            assert len(cmds) == 1
            assert broker.stats.refused == 1
            # a broker with a policy checks every publication: no fast path is offered
            assert broker.fast_endpoint == ""
            assert driver.transport.fast_path_ready is False
        finally:
            await driver.close()
            await hmi.close()
            await broker.close()

    asyncio.run(main())


def test_policy_file_errors_are_explained(tmp_path):
    (tmp_path / "p.yaml").write_text("clients:\n  - {name: x, publish: ['tag/']}\n")
    with pytest.raises(ValueError, match="key or key_file"):
        Policy.load(tmp_path / "p.yaml")


def test_curve_broker_restart_nodes_reconnect_resubscribe_and_resync(tmp_path, address):
    """The broker is killed and started again with the same keys and policy: no node is
    restarted; they reconnect through CURVE, say hello, the driver refills the new cache,
    the HMI node gets its values again, and publish rights still hold."""
    server, policy, client = curve_setup(tmp_path)

    async def main():
        broker = Broker(address, heartbeat=0.1, secret=server, policy=policy)
        await broker.start()
        driver = await connect(address, name="driver", keys=client("driver"), heartbeat=0.1)
        hmi = await connect(address, name="hmi", keys=client("hmi"), heartbeat=0.1)
        store = TagStore()
        bind_store(hmi, store, "tag/#")
        commands, tags = [], []
        driver.subscribe("cmd/#", lambda t, p: commands.append(p))
        try:
            await asyncio.sleep(0.2)
            driver.publish("tag/a/plc", encode_samples({"a/p/x": Sample(1.0)}))
            await until(lambda: store.get("a/p/x").value == 1.0)
            first_id = broker.id

            await broker.close()
            store.degrade(["a/p/x"], Quality.bad(Reason.NO_COMMUNICATION), 0.0)
            broker = Broker(address, heartbeat=0.1, secret=server, policy=policy)
            await broker.start()
            await until(lambda: hmi.transport.broker_id == broker.id != first_id, timeout=8)
            await until(lambda: driver.transport.broker_id == broker.id, timeout=8)
            # the value comes back without anybody publishing anew
            await until(lambda: store.get("a/p/x").quality.is_good, timeout=8)
            assert store.get("a/p/x").value == 1.0
            assert broker.zap.counts["admitted"] >= 2  # both came back through ZAP
            # live traffic flows both ways, and rights hold on the new broker
            driver.publish("tag/a/plc", encode_samples({"a/p/x": Sample(2.0)}))
            await until(lambda: store.get("a/p/x").value == 2.0)
            driver.subscribe("tag/#", lambda t, p: tags.append(p))
            await asyncio.sleep(0.1)
            hmi.publish("tag/a/plc", encode_samples({"a/p/x": Sample(666.0)}))  # refused
            hmi.publish("cmd/a/p/x", {"id": "1", "tag": "a/p/x", "value": 3})
            await until(lambda: commands)
            await asyncio.sleep(0.1)
            assert broker.stats.refused == 1
            assert not any(entry[1] == 666.0 for batch in tags for entry in batch)
        finally:
            await driver.close()
            await hmi.close()
            await broker.close()

    asyncio.run(main())


def test_a_policy_naming_a_missing_key_file_says_which_client_and_how_to_make_it(tmp_path):
    from hmi.bus.net.auth import Policy

    policy = tmp_path / "clients.yaml"
    policy.write_text("clients:\n  - {name: drivers, key_file: drivers.key, publish: [tag/]}\n")
    with pytest.raises(
        ValueError,
        match=r"clients\[0\] \(drivers\): key_file .*drivers.key: "
        r"no such file \(hmi keys generate drivers",
    ):
        Policy.load(policy)
