"""A third-party protocol found through the ``hmi.protocols`` entry-point group.

``memory``, defined here, is a complete (if tiny) protocol: it reads its own tag field,
runs a line that "subscribes" (publishes its values once connected) and writes with
read-back. The project loader finds it by name, the manager runs it, and the writes get
the shared checks (grants, limits) without the plug-in doing anything for them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from hmi.core.address import Address, ProtocolAddress
from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.sample import Sample
from hmi.core.tag import DataType, Tag
from hmi.drivers import protocol as protocol_module
from hmi.drivers.manager import DriverManager
from hmi.drivers.sink import Sink
from hmi.drivers.status import DeviceStats
from hmi.drivers.write_checks import Rejected
from hmi.project import ProjectError, parse_project
from hmi.project import protocols as registry
from hmi.project.fields import Fields
from hmi.project.model import DeviceConfig
from tests.drivers.helpers import RecordingSink

#: the "device": what a memory line holds, by address
MEMORY: dict[str, Any] = {}


class MemoryLine:
    def __init__(self, key: str, sink: Sink) -> None:
        self.key, self._sink = key, sink
        self._config: DeviceConfig | None = None
        self._tags: dict[str, Tag] = {}
        self._stop = asyncio.Event()

    @property
    def devices(self) -> list[str]:
        return [self._config.name] if self._config else []

    def config(self, device: str) -> DeviceConfig:
        assert self._config is not None
        return self._config

    def set_device(self, config: DeviceConfig, tags: Iterable[Tag]) -> list[str]:
        self._config, self._tags = config, {t.name: t for t in tags}
        return []

    def remove_device(self, name: str) -> list[str]:
        names, self._config, self._tags = list(self._tags), None, {}
        return names

    def last_samples(self, device: str) -> Mapping[str, Sample]:
        return {}

    async def run(self) -> None:
        assert self._config is not None
        stats = DeviceStats(self._config.name)
        stats.connected = True
        stats.answered()
        self._sink.status(stats.snapshot(time.time(), time.monotonic()))
        now = time.time()
        self._sink.samples(
            {
                name: Sample(MEMORY.get(str(tag.source.address)), source_time=now, receive_time=now)
                for name, tag in self._tags.items()
                if tag.source is not None
            }
        )
        await self._stop.wait()

    def stop(self) -> None:
        self._stop.set()

    def submit(
        self,
        device: str,
        plan: Any,
        command: Command,
        timeout: float,
        *,
        tag: Tag | None = None,
        settle: float = 0.0,
    ) -> asyncio.Future[CommandResult]:
        MEMORY[plan] = command.value
        now = time.time()
        sample = Sample(MEMORY[plan], source_time=now, receive_time=now)
        self._sink.samples({command.tag: sample})
        future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        future.set_result(
            CommandResult(command.id, command.tag, CommandState.CONFIRMED, sample.value, "", now)
        )
        return future


class MemoryProtocol:
    name = "memory"

    def read_device(self, f: Fields, base: DeviceConfig) -> DeviceConfig | None:
        return dataclasses.replace(base, settings=("memory",))

    def read_address(
        self, f: Fields, device: DeviceConfig, data_type: DataType | None
    ) -> Address | None:
        text = f.text("address")
        if text is not None and not text.startswith("m"):
            f.ctx.error(f.node_of("address"), f"{f.path}.address", "expected mNAME")
            return None
        return None if text is None else ProtocolAddress("memory", text)

    def device_fields(self, config: DeviceConfig) -> dict[str, Any]:
        return {}

    def line_key(self, config: DeviceConfig) -> str:
        return config.name

    def same_link(self, old: DeviceConfig, new: DeviceConfig) -> bool:
        return True

    def open_line(
        self, key: str, sink: Sink, poll_groups: Mapping[str, float], **options: Any
    ) -> MemoryLine:
        return MemoryLine(key, sink)

    def plan_write(self, command: Command, tag: Tag) -> Any:
        if not isinstance(command.value, int | float):
            raise Rejected(f"{tag.name}: numbers only")
        assert tag.source is not None
        return str(tag.source.address)


PLUGIN = MemoryProtocol()

PROJECT = """\
name: p
devices:
  - {name: mem, protocol: memory}
tags:
  - {name: a/mem/x, device: mem, address: mx, write_roles: [operator], limits: {low: 0, high: 10}}
"""


@pytest.fixture
def memory_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint("memory", f"{__name__}:PLUGIN", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: [point])
    monkeypatch.setattr(registry, "_loaded", {})
    MEMORY.clear()
    MEMORY["mx"] = 3.0


def test_an_entry_point_protocol_is_loaded_checked_and_run(memory_protocol: None) -> None:
    assert "memory" in registry.known_protocols()
    project = parse_project(PROJECT, "p.yaml")
    assert project.devices["mem"].settings == ("memory",)
    assert protocol_module.driver_plugin("memory") is PLUGIN
    with pytest.raises(ProjectError) as bad:
        parse_project(PROJECT.replace("address: mx", "address: zz"), "p.yaml")
    assert [str(e) for e in bad.value.errors] == ["p.yaml:5: tags[0].address: expected mNAME"]

    async def main() -> None:
        sink = RecordingSink()
        manager = DriverManager.for_project(project, sink)
        await manager.start()
        try:
            await sink.wait(lambda: "a/mem/x" in sink.latest)
            assert sink.value("a/mem/x") == 3.0
            assert sink.statuses["mem"].connected
            ok = await manager.write(
                Command("c1", "a/mem/x", 7, user="op", roles=frozenset({"operator"}))
            )
            assert ok.state is CommandState.CONFIRMED and MEMORY["mx"] == 7
            # the shared checks, which the plug-in does not implement
            viewer = await manager.write(
                Command("c2", "a/mem/x", 1, user="v", roles=frozenset({"viewer"}))
            )
            assert viewer.state is CommandState.REJECTED and MEMORY["mx"] == 7
            high = await manager.write(
                Command("c3", "a/mem/x", 11, user="op", roles=frozenset({"operator"}))
            )
            assert high.state is CommandState.REJECTED and "outside the limits" in high.message
            text = await manager.write(
                Command("c4", "a/mem/x", "x", user="op", roles=frozenset({"operator"}))
            )
            assert text.message == "a/mem/x: numbers only"
        finally:
            await manager.stop()

    asyncio.run(main())
