"""Finding the broker: UDP probe and keyed reply, then the documented fallbacks.

Order (docs/bus-protocol.md, "Discovery"): an explicit address (argument or
``$HMI_BROKER``) wins; else a UDP probe answered by a broker that knows the same key;
else the state file a local broker wrote; else :data:`DEFAULT_ADDRESS`.

The probe is ``b"HMI?" + msgpack([1, nonce, mac])`` and the answer
``b"HMI!" + msgpack([1, nonce, front, back, server_key, broker_id, mac])``; each ``mac`` is
HMAC-SHA256 over the packed fields before it, keyed with the plant's discovery key. A broker
ignores probes without the key, and a node ignores answers without it, so two plants on one
network never cross, and a stray packet cannot point a node elsewhere.

The key is a secret of the plant: read from a file or the environment
(:data:`KEY_ENV`), never from the command line. The default key (:data:`DEFAULT_KEY`) is
public, so it proves nothing: it is used on loopback only. A broker bound to another
address refuses to answer probes with it (:func:`check_beacon`), and a node sends its
probe only to loopback hosts with it (:func:`discover`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from hmi.bus.wire.address import DEFAULT_ADDRESS, BrokerAddress, read_state

log = logging.getLogger(__name__)

DISCOVERY_PORT = 5569
#: the discovery key nobody chose: public, so only for loopback
DEFAULT_KEY = "hmi"
#: the plant's discovery key (the text itself; ``hmi broker --discovery-key-file`` reads a file)
KEY_ENV = "HMI_DISCOVERY_KEY"
PROBE = b"HMI?"
ANSWER = b"HMI!"
BROKER_ENV = "HMI_BROKER"
_MAX_DATAGRAM = 2048


def discovery_key(explicit: str | None = None) -> str:
    """The discovery key: ``explicit``, else ``$HMI_DISCOVERY_KEY``, else the default."""
    return explicit or os.environ.get(KEY_ENV) or DEFAULT_KEY


def read_key_file(path: Path | str) -> str:
    """The discovery key in a file (its first line, without surrounding blanks); raises
    ValueError naming the file when it cannot be read or is empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"discovery key file {path}: {exc}") from None
    lines = text.strip().splitlines()
    key = lines[0].strip() if lines else ""
    if not key:
        raise ValueError(f"discovery key file {path}: empty")
    return key


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def front_is_local(address: BrokerAddress) -> bool:
    """True when the broker's front is reachable from this machine only (ipc, loopback)."""
    if address.front.startswith("ipc://"):
        return True
    host = address.front[len("tcp://") :].rpartition(":")[0]
    return is_loopback(host)


def check_beacon(address: BrokerAddress, key: str) -> None:
    """Raise ValueError when a broker at ``address`` must not answer probes keyed with
    ``key``: the default (public) key on anything but loopback."""
    if key == DEFAULT_KEY and not front_is_local(address):
        raise ValueError(
            f"discovery on {address.front} with the default discovery key: anyone on the "
            "network could answer probes in this broker's name. Give the plant a key of its "
            f"own (--discovery-key-file FILE, or ${KEY_ENV}) on the broker and the nodes, or "
            "turn discovery off (--no-beacon, or bus.discovery: false in the project)"
        )


def _mac(key: str, fields: list[Any]) -> bytes:
    return hmac.new(key.encode(), msgpack.packb(fields), hashlib.sha256).digest()


def make_probe(key: str, nonce: bytes) -> bytes:
    """A probe datagram."""
    fields: list[Any] = [1, nonce]
    return PROBE + bytes(msgpack.packb([*fields, _mac(key, fields)]))


def check_probe(key: str, data: bytes) -> bytes | None:
    """The nonce of a valid probe, else None."""
    fields = _unpack(PROBE, data, 3)
    if fields is None or not isinstance(fields[1], bytes):
        return None
    if not hmac.compare_digest(_mac(key, fields[:2]), fields[2]):
        return None
    return fields[1]


def make_answer(key: str, nonce: bytes, address: BrokerAddress, broker_id: str) -> bytes:
    """The broker's answer to a probe."""
    fields: list[Any] = [1, nonce, address.front, address.back, address.server_key, broker_id]
    return ANSWER + bytes(msgpack.packb([*fields, _mac(key, fields)]))


def check_answer(key: str, nonce: bytes, data: bytes) -> BrokerAddress | None:
    """The address in a valid answer to our probe, else None."""
    fields = _unpack(ANSWER, data, 7)
    if fields is None or fields[1] != nonce or not all(isinstance(f, str) for f in fields[2:6]):
        return None
    if not isinstance(fields[6], bytes) or not hmac.compare_digest(
        _mac(key, fields[:6]), fields[6]
    ):
        return None
    return BrokerAddress(fields[2], fields[3], fields[4])


def _unpack(magic: bytes, data: bytes, count: int) -> list[Any] | None:
    if not data.startswith(magic) or len(data) > _MAX_DATAGRAM:
        return None
    try:
        fields = msgpack.unpackb(data[len(magic) :], raw=False)
    except Exception:
        return None
    if type(fields) is not list or len(fields) != count or fields[0] != 1:
        return None
    return fields


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, beacon: Beacon) -> None:
        self.beacon = beacon
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # _SelectorDatagramTransport does not subclass DatagramTransport in 3.11
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        nonce = check_probe(self.beacon.key, data)
        if nonce is None:
            self.beacon.refused += 1
            return
        self.beacon.answered += 1
        address = self.beacon.address
        if address.front.startswith(("tcp://*:", "tcp://0.0.0.0:")):
            address = address.with_host(addr[0])  # the interface the probe reached us on
        if self.transport is not None:
            self.transport.sendto(
                make_answer(self.beacon.key, nonce, address, self.beacon.id), addr
            )


@dataclass
class Beacon:
    """The broker's side: answers keyed probes on a UDP port."""

    address: BrokerAddress
    id: str
    key: str = DEFAULT_KEY
    answered: int = 0
    refused: int = 0
    _transport: asyncio.DatagramTransport | None = None

    async def start(self, host: str = "0.0.0.0", port: int = DISCOVERY_PORT) -> int:
        """Listen on ``host:port``; returns the port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Responder(self), local_addr=(host, port), family=socket.AF_INET
        )
        self._transport = transport
        sockname = transport.get_extra_info("sockname")
        return int(sockname[1])

    def close(self) -> None:
        """Stop answering."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None


class _Prober(asyncio.DatagramProtocol):
    def __init__(self, key: str, nonce: bytes) -> None:
        self.key = key
        self.nonce = nonce
        self.found: asyncio.Future[BrokerAddress] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        address = check_answer(self.key, self.nonce, data)
        if address is not None and not self.found.done():
            self.found.set_result(address)


async def discover(
    key: str = DEFAULT_KEY,
    port: int = DISCOVERY_PORT,
    hosts: tuple[str, ...] = ("127.0.0.1", "255.255.255.255"),
    timeout: float = 0.3,
) -> BrokerAddress | None:
    """Probe ``hosts`` on ``port``; the first keyed answer, or None after ``timeout``.

    With the default key only loopback hosts are probed: an answer keyed with a public
    key could come from anyone on the network (the broadcast is not sent).
    """
    if key == DEFAULT_KEY:
        local = tuple(host for host in hosts if is_loopback(host))
        if local != hosts:
            log.debug(
                "discovery: the default key probes loopback only (set $%s for the network)",
                KEY_ENV,
            )
        hosts = local
        if not hosts:
            return None
    loop = asyncio.get_running_loop()
    nonce = os.urandom(12)
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Prober(key, nonce), local_addr=("0.0.0.0", 0), family=socket.AF_INET
    )
    try:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        probe = make_probe(key, nonce)
        for host in hosts:
            try:
                transport.sendto(probe, (host, port))
            except OSError as exc:  # no broadcast route in a container: fine
                log.debug("probe to %s failed: %s", host, exc)
        try:
            return await asyncio.wait_for(asyncio.shield(protocol.found), timeout)
        except TimeoutError:
            return None
    finally:
        transport.close()


# ``resolve`` has a parameter of that name (its documented switch): call the probe by this one
_probe = discover


async def resolve(
    explicit: str | None = None,
    *,
    key: str | None = None,
    port: int = DISCOVERY_PORT,
    hosts: tuple[str, ...] = ("127.0.0.1", "255.255.255.255"),
    timeout: float = 0.3,
    server_key: str = "",
    discover: bool = True,
) -> tuple[BrokerAddress, str]:
    """The broker's address and where it came from: ``explicit``, ``env``, ``beacon``,
    ``state-file`` or ``default`` (in that order of preference).

    ``discover=False`` skips the UDP probe (a plant whose network must not see broadcasts,
    or a deployment that names its broker): the other sources apply as before. ``key``:
    the discovery key (None: :func:`discovery_key`).
    """
    if explicit:
        return BrokerAddress.parse(explicit, server_key), "explicit"
    if env := os.environ.get(BROKER_ENV):
        return BrokerAddress.parse(env, server_key), "env"
    if discover:
        found = await _probe(discovery_key(key), port, hosts, timeout)
        if found is not None:
            return found, "beacon"
    state = read_state()
    if state is not None:
        return state, "state-file"
    return BrokerAddress.parse(DEFAULT_ADDRESS, server_key), "default"
