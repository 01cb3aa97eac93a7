"""Shared pieces of the OPC UA tests: a project on a server, a sink into a TagStore."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hmi.core.command import Command
from hmi.core.sample import Sample
from hmi.core.tagstore import TagStore
from hmi.drivers.status import DeviceStatus
from hmi.project import Project, load_project

TAGS = """\
  - {{name: u/plc/temperature, device: plc, address: "ns=1;s=Temperature", type: float64,
     poll_group: fast}}
  - {{name: u/plc/counter, device: plc, address: "ns=1;s=Counter", type: uint32, poll_group: fast}}
  - {{name: u/plc/level, device: plc, address: "ns=1;s=Level", type: float32}}
  - {{name: u/plc/pressure, device: plc, address: "ns=1;s=Pressure", type: int16}}
  - {{name: u/plc/flags, device: plc, address: "ns=1;s=Flags", type: uint16}}
  - {{name: u/plc/total, device: plc, address: "ns=1;s=Total", type: int32}}
  - {{name: u/plc/running, device: plc, address: "ns=1;s=Running", type: bool}}
  - {{name: u/plc/name, device: plc, address: "ns=1;s=Name", type: string}}
  - {{name: u/plc/sensor, device: plc, address: "ns=1;s=Sensor", type: float64, poll_group: fast}}
  - name: u/plc/setpoint
    device: plc
    address: "ns=1;s=Setpoint"
    type: float64
    poll_group: fast
    write_roles: [operator]
    limits: {{low: 0, high: 1000}}
    settle: 0.3
  - {{name: u/plc/clamped, device: plc, address: "ns=1;s=Clamped", type: float64,
     poll_group: fast, write_roles: [operator], settle: 0.8}}
  - {{name: u/plc/level_w, device: plc, address: "ns=1;s=Level", type: float32,
     write_roles: [operator]}}
  - {{name: u/plc/missing, device: plc, address: "ns=1;s=NoSuchNode", type: float64}}
  - {{name: u/plc/mode, device: plc, address: "ns=1;s=Mode", type: float64,
     write_roles: [operator]}}
  - {{name: u/plc/counter_db, device: plc, address: "ns=1;s=Counter", type: uint32,
     poll_group: fast, deadband: 1000}}
"""

PROJECT = (
    """\
name: opcua test
poll_groups: {{fast: 0.05, normal: 0.2}}
devices:
  - name: plc
    protocol: opcua
    endpoint: {endpoint}
    timeout: 2.0
    reconnect_max: 0.5
tags:
"""
    + TAGS
)


def write_project(folder: Path, endpoint: str) -> Path:
    """The test project on ``endpoint``, as a file."""
    path = folder / "project.yaml"
    path.write_text(PROJECT.format(endpoint=endpoint))
    return path


def project_on(folder: Path, endpoint: str) -> Project:
    """The test project on ``endpoint``, loaded."""
    return load_project(write_project(folder, endpoint))


class StoreSink:
    """Puts what the driver delivers into a :class:`TagStore`; tests wait for conditions."""

    def __init__(self, project: Project) -> None:
        self.store = TagStore(project.tags.values())
        self.statuses: list[DeviceStatus] = []
        self.batches = 0
        self._changed = asyncio.Event()

    def samples(self, batch: Mapping[str, Sample]) -> None:
        self.store.apply(batch)
        self.batches += 1
        self._changed.set()

    def status(self, status: DeviceStatus) -> None:
        self.statuses.append(status)
        self._changed.set()

    def get(self, name: str) -> Sample:
        return self.store.get(name)

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``condition()`` holds (woken by every delivery)."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


def command(tag: str, value: Any, *roles: str, user: str = "op", ident: str = "") -> Command:
    """A command claiming ``roles`` (the manager's library check, for tests)."""
    return Command(
        ident or f"{tag}-{value}-{time.monotonic_ns()}",
        tag,
        value,
        user=user,
        roles=frozenset(roles or ("operator",)),
        time=time.time(),
    )
