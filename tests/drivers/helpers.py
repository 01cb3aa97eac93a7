"""Shared helpers for driver tests: a recording sink, builders, a pymodbus server, sessions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
)
from pymodbus.server import ModbusTcpServer

from hmi.app.plant import rpc_authorizer
from hmi.bus import Bus
from hmi.bus.local.rpc import RpcRequest
from hmi.core.address import ModbusAddress
from hmi.core.identity import Identity, issue_token, verify_token
from hmi.core.permissions import Grants
from hmi.core.quality import Severity
from hmi.core.sample import Sample
from hmi.core.tag import DataType, Limits, Scaling, Source, Tag
from hmi.drivers.auth import SessionVerifier
from hmi.drivers.status import DeviceStatus
from hmi.project.model import DeviceConfig
from tests.ports import free_port  # noqa: F401 - many tests import it from here

# pymodbus logs every refused connection as a warning; tests provoke plenty on purpose.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def device(name: str, port: int, **kw: Any) -> DeviceConfig:
    """A TCP device on 127.0.0.1 with test-friendly timeouts."""
    kw.setdefault("timeout", 0.2)
    kw.setdefault("retries", 0)
    kw.setdefault("reconnect_max", 0.3)
    return DeviceConfig(name=name, host="127.0.0.1", port=port, **kw)


def tag(
    name: str,
    dev: str,
    address: str,
    data_type: DataType = DataType.UINT16,
    group: str = "fast",
    *,
    scaling: Scaling | None = None,
    limits: Limits | None = None,
    write_roles: frozenset[str] = frozenset(),
    **source: Any,
) -> Tag:
    """A device tag."""
    return Tag(
        name=name,
        data_type=data_type,
        scaling=scaling,
        limits=limits or Limits(),
        write_roles=write_roles,
        source=Source(dev, ModbusAddress.parse(address), group, **source),
    )


#: the plant key of driver tests
KEY = b"driver tests plant key, 32 bytes"


def local_verifier(key: bytes = KEY) -> SessionVerifier:
    """A verifier that checks signature and expiry with ``key`` (no revocation: tests)."""

    async def verify(token: str) -> Identity:
        return verify_token(token, key, time.time())

    return verify


def session(user: str, *roles: str, key: bytes = KEY, ttl: float = 3600.0, node: str = "") -> str:
    """A session token for ``user`` with ``roles`` logged in on ``node``, signed with
    ``key``."""
    identity = Identity(
        user, frozenset(roles), node=node, expires=time.time() + ttl, session=f"s-{user}"
    )
    return issue_token(identity, key)


@dataclass
class Refusals:
    """The RPC refusals an authorizer recorded: ``(where, user, why, node)``."""

    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def __call__(self, request: RpcRequest, user: str, why: str, node: str) -> None:
        self.rows.append((f"{request.target}.{request.method}", user, why, node))


def install_authorizer(
    bus: Bus, grants: Grants | None = None, verify: SessionVerifier | None = None
) -> Refusals:
    """The composition root's RPC authorizer on ``bus`` (sessions checked with ``verify``,
    default :func:`local_verifier`); returns what it refuses."""
    refusals = Refusals()
    bus.authorizer = rpc_authorizer(grants or Grants(), verify or local_verifier(), refusals)
    return refusals


class RecordingSink:
    """Collects what a driver delivers, and lets a test wait for a condition."""

    def __init__(self) -> None:
        self.latest: dict[str, Sample] = {}
        self.batches: list[tuple[float, dict[str, Sample]]] = []
        self.statuses: dict[str, DeviceStatus] = {}
        self.status_log: list[tuple[float, DeviceStatus]] = []
        self._changed = asyncio.Event()

    def samples(self, batch: Mapping[str, Sample]) -> None:
        self.batches.append((time.monotonic(), dict(batch)))
        self.latest.update(batch)
        self._changed.set()

    def status(self, status: DeviceStatus) -> None:
        self.statuses[status.device] = status
        self.status_log.append((time.monotonic(), status))
        self._changed.set()

    def severity(self, name: str) -> Severity | None:
        sample = self.latest.get(name)
        return None if sample is None else sample.quality.severity

    def value(self, name: str) -> Any:
        return self.latest[name].value

    async def wait(self, condition: Callable[[], bool], timeout: float = 3.0) -> float:
        """Wait until ``condition()`` holds; returns the monotonic time it did."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"condition not met within {timeout} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return time.monotonic()


def datastore(hr: list[int] | None = None, co: list[bool] | None = None, **more: Any) -> Any:
    """A pymodbus device context (addresses are 0-based on the wire)."""
    # pymodbus adds 1 to the wire address before looking up its blocks
    return ModbusDeviceContext(
        hr=ModbusSequentialDataBlock(1, hr or [0] * 200),
        ir=ModbusSequentialDataBlock(1, more.get("ir") or [0] * 200),
        co=ModbusSequentialDataBlock(1, co or [False] * 64),
        di=ModbusSequentialDataBlock(1, more.get("di") or [False] * 64),
    )


@contextlib.asynccontextmanager
async def pymodbus_server(port: int, context: Any) -> AsyncIterator[ModbusTcpServer]:
    """pymodbus' own TCP server on 127.0.0.1:``port``, stopped on exit."""
    server = ModbusTcpServer(
        ModbusServerContext(devices=context, single=True), address=("127.0.0.1", port)
    )
    await server.serve_forever(background=True)
    try:
        yield server
    finally:
        await server.shutdown()
