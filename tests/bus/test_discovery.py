"""Discovery on loopback: keyed UDP probe, and the documented fallback order."""

from __future__ import annotations

import asyncio

from hmi.bus import connect
from hmi.bus.broker import Broker
from hmi.bus.net.discovery import Beacon, discover, resolve
from hmi.bus.wire.address import BrokerAddress, read_state, state_file, write_state

from .conftest import free_udp_port


def test_a_keyed_probe_finds_the_broker_and_a_wrong_key_does_not():
    async def main():
        beacon = Beacon(BrokerAddress.parse("tcp://*:6000"), "b1", key="plant-a")
        port = await beacon.start("127.0.0.1", 0)
        try:
            found = await discover("plant-a", port, ("127.0.0.1",), timeout=2)
            wrong = await discover("plant-b", port, ("127.0.0.1",), timeout=0.2)
        finally:
            beacon.close()
        return found, wrong, beacon

    found, wrong, beacon = asyncio.run(main())
    # bound to '*': the answer names the interface the probe arrived on
    assert found == BrokerAddress("tcp://127.0.0.1:6000", "tcp://127.0.0.1:6001")
    assert wrong is None
    assert beacon.answered == 1
    assert beacon.refused == 1


def test_fallback_order_explicit_env_beacon_state_file_default(address, monkeypatch):
    async def main():
        udp = free_udp_port()
        opts = {"key": "k", "port": udp, "hosts": ("127.0.0.1",), "timeout": 0.2}
        # nothing running: the default
        addr, source = await resolve(None, **opts)
        assert (addr.front, source) == ("tcp://127.0.0.1:5570", "default")
        # a broker with a state file but no beacon: the state file
        broker = Broker(address, beacon_port=None)
        await broker.start()
        try:
            addr, source = await resolve(None, **opts)
            assert (addr.front, source) == (address, "state-file")
        finally:
            await broker.close()
        assert read_state() is None  # removed at close
        # a broker with a beacon: found by the probe
        broker = Broker(address, beacon_port=udp, beacon_key="k", beacon_host="127.0.0.1")
        await broker.start()
        try:
            addr, source = await resolve(None, **opts)
            assert (addr.front, source) == (address, "beacon")
            monkeypatch.setenv("HMI_BROKER", "tcp://10.0.0.9:7000")
            addr, source = await resolve(None, **opts)
            assert (addr.front, source) == ("tcp://10.0.0.9:7000", "env")
            addr, source = await resolve("ipc:///tmp/x", **opts)
            assert (addr.front, source) == ("ipc:///tmp/x.front", "explicit")
        finally:
            await broker.close()

    asyncio.run(main())


def test_a_stale_state_file_is_ignored():
    write_state(BrokerAddress.parse("tcp://127.0.0.1:7000"), "old")
    text = state_file().read_text().replace('"pid": ', '"pid": 9999999')
    state_file().write_text(text)
    assert read_state() is None


def test_address_forms():
    assert BrokerAddress.parse("tcp://h:5570").back == "tcp://h:5571"
    assert BrokerAddress.parse("ipc:///run/bus").back == "ipc:///run/bus.back"
    for bad in ("udp://x:1", "tcp://nohost", "tcp://h:99999", "ipc://"):
        try:
            BrokerAddress.parse(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_discover_false_skips_the_probe_and_keeps_the_other_sources(address, monkeypatch):
    async def main():
        udp = free_udp_port()
        opts = {"key": "k", "port": udp, "hosts": ("127.0.0.1",), "timeout": 0.2}
        # a broker with a beacon and a state file: the probe would find it first
        broker = Broker(address, beacon_port=udp, beacon_key="k", beacon_host="127.0.0.1")
        await broker.start()
        try:
            addr, source = await resolve(None, **opts)
            assert (addr.front, source) == (address, "beacon")
            addr, source = await resolve(None, discover=False, **opts)
            assert (addr.front, source) == (address, "state-file")
            assert broker.beacon.answered == 1  # the second time, nobody asked
            addr, source = await resolve("tcp://10.0.0.9:7000", discover=False, **opts)
            assert source == "explicit"
            monkeypatch.setenv("HMI_BROKER", "tcp://10.0.0.8:7000")
            addr, source = await resolve(None, discover=False, **opts)
            assert (addr.front, source) == ("tcp://10.0.0.8:7000", "env")
            monkeypatch.delenv("HMI_BROKER")
            # connect passes it on
            bus = await connect(None, name="n", discover=False, discovery_port=udp)
            try:
                assert bus.transport.address.front == address
            finally:
                await bus.close()
            assert broker.beacon.answered == 1
        finally:
            await broker.close()
        addr, source = await resolve(None, discover=False, **opts)
        assert (addr.front, source) == ("tcp://127.0.0.1:5570", "default")

    asyncio.run(main())
