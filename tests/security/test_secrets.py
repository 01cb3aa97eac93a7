"""Threats: secrets where others can read them (issue 13, items 6 and 7). CURVE secret
key files are 0600 from the moment they exist; the discovery key never comes from the
command line; the public default discovery key is refused on anything but loopback."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys

import pytest

from hmi.bus.broker import Broker
from hmi.bus.net.discovery import DEFAULT_KEY, discover, read_key_file, resolve
from hmi.bus.net.keys import KeyPair, create_keys
from tests.bus.conftest import free_port_pair, free_udp_port

from .attacker import until

HMI = [sys.executable, "-m", "hmi"]
posix = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


@posix
def test_a_secret_key_file_is_0600_from_the_moment_it_exists(tmp_path, monkeypatch):
    """Attack: another user reads a secret key between its creation and a chmod (or
    under a permissive umask)."""
    created = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):
        created.append((os.fspath(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    old = os.umask(0)  # the worst umask: nothing taken away
    try:
        public, secret = create_keys(tmp_path / "keys", "station")
    finally:
        os.umask(old)
    secrets = [entry for entry in created if ".key_secret" in entry[0]]
    assert secrets, "the secret is written through os.open"
    for _, flags, mode in secrets:
        assert mode == 0o600 and flags & os.O_CREAT and flags & os.O_EXCL
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (
        KeyPair.load(secret).secret and KeyPair.load(public).public == KeyPair.load(secret).public
    )
    assert not list((tmp_path / "keys").glob("*.tmp"))


@posix
def test_hmi_keys_generate_writes_secrets_0600_whatever_the_umask(tmp_path):
    """The same through the command the deployment guide runs."""
    done = subprocess.run(
        [
            "sh",
            "-c",
            'umask 000 && exec "$@"',
            "sh",
            *HMI,
            "keys",
            "generate",
            "a",
            "b",
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in ("a", "b"):
        assert stat.S_IMODE((tmp_path / f"{name}.key_secret").stat().st_mode) == 0o600


def test_a_broker_refuses_the_default_discovery_key_on_a_network_address():
    """Attack: the default discovery key is public: on a network, anyone could answer
    probes in the broker's name (and nodes with the default key would believe it)."""
    with pytest.raises(ValueError, match="default discovery key"):
        Broker("tcp://0.0.0.0:5570", beacon_port=0)
    with pytest.raises(ValueError, match="default discovery key"):
        Broker("tcp://*:5570", beacon_port=0)
    # on loopback, or with a key of the plant's own, or without a beacon: it starts
    Broker("tcp://127.0.0.1:5570", beacon_port=0)
    Broker("tcp://0.0.0.0:5570", beacon_port=0, beacon_key="the plant's own")
    Broker("tcp://0.0.0.0:5570", beacon_port=None)


def test_hmi_broker_says_why_it_refuses_and_takes_no_key_on_the_command_line(tmp_path):
    done = subprocess.run(
        [*HMI, "broker", "--address", "tcp://0.0.0.0:5570", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "default discovery key" in done.stderr and "--discovery-key-file" in done.stderr
    # a secret on argv is visible to every user (ps): the option is gone
    done = subprocess.run(
        [*HMI, "broker", "--key", "secret", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr


def test_a_node_with_the_default_key_does_not_broadcast_its_probe(monkeypatch):
    """Attack: a node broadcasting a probe keyed with the public default would take
    any forged answer from the network for its broker."""

    async def main():
        sent = []
        loop = asyncio.get_running_loop()
        real = loop.create_datagram_endpoint

        async def spy(factory, **kwargs):
            transport, protocol = await real(factory, **kwargs)
            sendto = transport.sendto
            transport.sendto = lambda data, addr: (sent.append(addr[0]), sendto(data, addr))
            return transport, protocol

        monkeypatch.setattr(loop, "create_datagram_endpoint", spy)
        hosts = ("127.0.0.1", "255.255.255.255", "192.0.2.1")
        await discover(DEFAULT_KEY, 9, hosts, timeout=0.01)
        assert sent == ["127.0.0.1"]
        sent.clear()
        await discover("the plant's own", 9, hosts, timeout=0.01)
        assert sent == list(hosts)

    asyncio.run(main())


def test_the_discovery_key_comes_from_a_file_or_the_environment(tmp_path, monkeypatch):
    """A broker and a node that share a plant key (the broker reads a file, the node
    ``$HMI_DISCOVERY_KEY``) find each other; a probe with another key goes unanswered."""

    async def main():
        udp = free_udp_port()
        address = f"tcp://127.0.0.1:{free_port_pair()}"
        key_file = tmp_path / "discovery.key"
        key_file.write_text("plant-7f3a\n")
        key_file.chmod(0o600)
        broker = Broker(address, beacon_port=udp, beacon_key=read_key_file(key_file))
        await broker.start()
        try:
            options = {"port": udp, "hosts": ("127.0.0.1",), "timeout": 0.5}
            monkeypatch.setenv("HMI_DISCOVERY_KEY", "plant-7f3a")
            found, source = await resolve(None, **options)
            assert (found.front, source) == (address, "beacon")
            monkeypatch.setenv("HMI_DISCOVERY_KEY", "another plant")
            _, source = await resolve(None, **options)
            assert source != "beacon"
            await until(lambda: broker.beacon.refused == 1)
        finally:
            await broker.close()

    asyncio.run(main())


def test_a_beacon_with_the_default_key_listens_on_loopback_only():
    """A broker on loopback with the default key binds its beacon to loopback too: a
    probe from the network never gets an answer; with the plant's key, every interface."""
    assert Broker("tcp://127.0.0.1:5570", beacon_port=0).beacon_host == "127.0.0.1"
    assert Broker("ipc:///tmp/bus", beacon_port=0).beacon_host == "127.0.0.1"
    plant = Broker("tcp://0.0.0.0:5570", beacon_port=0, beacon_key="the plant's own")
    assert plant.beacon_host == "0.0.0.0"
