"""CURVE: only listed keys connect; each key publishes only under its prefixes."""

from __future__ import annotations

import asyncio

import pytest

from hmi.bus import Bus
from hmi.bus.auth import Policy
from hmi.bus.broker import Broker
from hmi.bus.keys import ClientKeys, KeyPair, create_keys


def test_curve_admits_listed_keys_and_enforces_publish_rights(tmp_path, address):
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

    async def main():
        broker = Broker(address, heartbeat=0.1, secret=server, policy=policy)
        await broker.start()
        driver = await Bus.connect(address, name="driver", keys=client("driver"), heartbeat=0.1)
        hmi = await Bus.connect(address, name="hmi", keys=client("hmi"), heartbeat=0.1)
        try:
            with pytest.raises(ConnectionError):
                await Bus.connect(address, name="intruder", keys=client("intruder"), wait=0.5)
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
        finally:
            await driver.close()
            await hmi.close()
            await broker.close()

    asyncio.run(main())


def test_policy_file_errors_are_explained(tmp_path):
    (tmp_path / "p.yaml").write_text("clients:\n  - {name: x, publish: ['tag/']}\n")
    with pytest.raises(ValueError, match="key or key_file"):
        Policy.load(tmp_path / "p.yaml")
