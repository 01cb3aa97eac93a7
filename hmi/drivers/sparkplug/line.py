"""A line of ``protocol: sparkplug`` devices: one MQTT connection to one broker, serving
every device (foreign edge node, or one of its devices) reached through it.

Samples come from :class:`~hmi.drivers.sparkplug.ingest.SparkplugIngest`; the line hands
them to the sink in one batch per message. A device is ``connected`` while the MQTT
session is up and ``communicating`` while its edge node is born and not dead. Tags
without a value yet are BAD ``not connected`` (waiting for the node's birth). Right after a
session starts, a node not heard of yet is reported without an error for
:data:`BIRTH_GRACE` seconds (the answer to the rebirth request is on its way; a status
without an error raises no communication alarm), then as not born.

Writes are DCMDs (NCMD for a node metric) carrying the value; the result is CONFIRMED
when the edge node reports the metric at that value within the write's timeout (its
read-back), TIMED_OUT otherwise, FAILED when the MQTT session is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample, Value
from hmi.core.tag import Tag
from hmi.drivers.secrets import read_secret
from hmi.drivers.sink import Sink
from hmi.drivers.sparkplug.host import Binding
from hmi.drivers.sparkplug.ingest import SparkplugIngest
from hmi.drivers.sparkplug.mqtt import MqttSettings
from hmi.drivers.sparkplug.settings import SparkplugDevice
from hmi.drivers.status import DeviceStatus
from hmi.project.model import DeviceConfig

log = logging.getLogger(__name__)

#: seconds after an MQTT session starts in which a node not heard of yet is not a failure
BIRTH_GRACE = 5.0


@dataclass(frozen=True, slots=True)
class WritePlan:
    """A DCMD to send: the metric, its Sparkplug datatype and the value."""

    metric: str
    datatype: int
    value: Value


@dataclass
class _Device:
    config: DeviceConfig
    settings: SparkplugDevice
    tags: dict[str, Tag] = field(default_factory=dict)


@dataclass
class _Write:
    tag: str
    value: Value
    command: Command
    future: asyncio.Future[CommandResult]
    timer: asyncio.TimerHandle | None = None


def mqtt_settings_of(settings: SparkplugDevice) -> MqttSettings:
    """The MQTT connection of a device's settings, its password read."""
    return MqttSettings.parse(
        settings.broker,
        client_id=settings.client_id or f"hmi-host-{settings.group}-{settings.edge_node}",
        username=settings.username,
        password=read_secret(settings.password),
        ca_file=settings.ca_file,
        cert_file=settings.cert_file,
        key_file=settings.key_file,
    )


class SparkplugLine:
    """The devices of one MQTT broker (:class:`hmi.drivers.protocol.DeviceLine`)."""

    def __init__(
        self,
        key: str,
        sink: Sink,
        poll_groups: Mapping[str, float],
        *,
        wall_clock: Callable[[], float] = time.time,
        status_interval: float = 1.0,
        **options: Any,
    ) -> None:
        self.key = key
        self._sink = sink
        self._wall = wall_clock
        self._status_interval = status_interval
        self._devices: dict[str, _Device] = {}
        self._writes: list[_Write] = []
        self._stop = asyncio.Event()
        self.ingest: SparkplugIngest | None = None
        #: wall time the MQTT session was first seen up (None: down)
        self._up_since: float | None = None
        #: why no MQTT session can be opened at all (an unreadable password file)
        self._unusable = ""

    # -- devices --------------------------------------------------------------------------
    @property
    def devices(self) -> list[str]:
        """Names of the devices on this line."""
        return list(self._devices)

    def config(self, device: str) -> DeviceConfig:
        """The configuration of ``device``."""
        return self._devices[device].config

    def set_device(self, config: DeviceConfig, tags: Iterable[Tag]) -> list[str]:
        """Add ``config`` or replace its tags; returns the tags it no longer has."""
        settings = config.settings
        assert isinstance(settings, SparkplugDevice)
        old = self._devices.get(config.name)
        new = {t.name: t for t in tags}
        gone = [name for name in (old.tags if old else {}) if name not in new]
        self._devices[config.name] = _Device(config, settings, new)
        if self.ingest is not None:
            self.ingest.unbind(gone)
            self._bind(config.name)
        waiting = Quality.bad(
            Reason.NOT_CONNECTED, f"{config.name}: waiting for the birth of {_node(settings)}"
        )
        now = self._wall()
        fresh = {n: Sample(None, waiting, 0.0, now) for n in new if not old or n not in old.tags}
        if fresh:
            self._sink.samples(fresh)
        return gone

    def remove_device(self, name: str) -> list[str]:
        """Stop serving ``name``; its tag names."""
        device = self._devices.pop(name, None)
        if device is None:
            return []
        if self.ingest is not None:
            self.ingest.unbind(device.tags)
        for write in [w for w in self._writes if w.tag in device.tags]:
            self._finish(write, CommandState.FAILED, f"device {name} removed")
        return list(device.tags)

    def last_samples(self, device: str) -> Mapping[str, Sample]:
        """The last sample of every tag of ``device`` that had one."""
        entry = self._devices.get(device)
        if entry is None or self.ingest is None:
            return {}
        last = self.ingest.state.last
        return {name: last[name] for name in entry.tags if name in last}

    def _bind(self, device: str) -> None:
        assert self.ingest is not None
        s = self._devices[device].settings
        self.ingest.bind(self._bindings(device))
        # devices of one edge node share its bound: the shortest of theirs
        bounds = [
            d.settings.stale_after
            for d in self._devices.values()
            if (d.settings.group, d.settings.edge_node) == (s.group, s.edge_node)
        ]
        positive = [b for b in bounds if b > 0]
        self.ingest.set_stale_after(s.group, s.edge_node, min(positive, default=0.0))

    def _bindings(self, device: str) -> list[Binding]:
        entry = self._devices[device]
        s = entry.settings
        return [
            Binding(tag.name, s.group, s.edge_node, s.device, str(tag.source.address))
            for tag in entry.tags.values()
            if tag.source is not None
        ]

    # -- running --------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect (paho reconnects by itself), publish statuses, until stopped."""
        first = next(iter(self._devices.values()), None)
        if first is None:
            await self._stop.wait()
            return
        try:
            mqtt = mqtt_settings_of(first.settings)
        except ValueError as exc:  # a password it cannot read (SecretError)
            self._cannot_connect(str(exc))
        else:
            self.ingest = SparkplugIngest(
                mqtt,
                self._on_samples,
                clock=self._wall,
                on_link=lambda up: self._publish_statuses(),
            )
            for name in self._devices:
                self._bind(name)
            self.ingest.start()
        try:
            while not self._stop.is_set():
                self._publish_statuses()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._status_interval)
        finally:
            for write in list(self._writes):
                self._finish(write, CommandState.FAILED, "driver stopped")
            if self.ingest is not None:
                await self.ingest.stop()

    def _cannot_connect(self, why: str) -> None:
        """No MQTT session can be opened (``why``): every tag BAD saying so, and every
        status (so the devices' communication alarms) until the line is stopped; a change
        of the devices' settings starts a new line."""
        self._unusable = why
        log.error("%s: %s", ", ".join(self._devices), why)
        now = self._wall()
        bad: dict[str, Sample] = {}
        for name, entry in self._devices.items():
            quality = Quality.bad(Reason.NOT_CONNECTED, f"{name}: {why}")
            bad.update({tag: Sample(None, quality, 0.0, now) for tag in entry.tags})
        self._sink.samples(bad)

    def stop(self) -> None:
        """Ask :meth:`run` to end."""
        self._stop.set()

    def _publish_statuses(self) -> None:
        ingest = self.ingest
        up = ingest is not None and ingest.link.connected
        now = self._wall()
        if not up:
            self._up_since = None
        elif self._up_since is None:
            self._up_since = now
        young = self._up_since is not None and now - self._up_since < BIRTH_GRACE
        for name, entry in self._devices.items():
            s = entry.settings
            born = up and ingest is not None and ingest.state.online(s.group, s.edge_node)
            error = ""
            if self._unusable:
                error = f"{name}: {self._unusable}"
            elif not up:
                error = f"{name}: no MQTT session with {s.broker}"
            elif not born and not (
                young and ingest is not None and not ingest.state.told(s.group, s.edge_node)
            ):
                error = f"{name}: edge node {_node(s)} not born (or dead)"
            self._sink.status(
                DeviceStatus(
                    name,
                    connected=up,
                    communicating=born,
                    last_error=error,
                    last_error_time=now if error else 0.0,
                    time=now,
                )
            )

    def _on_samples(self, batch: dict[str, Sample]) -> None:
        self._sink.samples(batch)
        for write in list(self._writes):
            sample = batch.get(write.tag)
            if sample is not None and sample.quality.is_good and _same(sample.value, write.value):
                self._finish(write, CommandState.CONFIRMED, "", sample.value)

    # -- writes ---------------------------------------------------------------------------
    def submit(
        self,
        device: str,
        plan: WritePlan,
        command: Command,
        timeout: float,
        *,
        tag: Tag | None = None,
        settle: float = 0.0,
    ) -> asyncio.Future[CommandResult]:
        """Send the DCMD; the future is CONFIRMED by the read-back (see the docstring)."""
        loop = asyncio.get_running_loop()
        write = _Write(command.tag, plan.value, command, loop.create_future())
        entry = self._devices.get(device)
        ingest = self.ingest
        if entry is None or ingest is None:
            self._finish(write, CommandState.FAILED, f"device {device} is not running")
            return write.future
        s = entry.settings
        binding = Binding(command.tag, s.group, s.edge_node, s.device, plan.metric)
        if not ingest.command(binding, plan.datatype, plan.value):
            self._finish(write, CommandState.FAILED, f"{device}: no MQTT session with {s.broker}")
            return write.future
        self._writes.append(write)
        write.timer = loop.call_later(
            timeout,
            self._finish,
            write,
            CommandState.TIMED_OUT,
            f"{device}: {plan.metric} not reported at the written value within {timeout:g} s",
        )
        return write.future

    def _finish(
        self, write: _Write, state: CommandState, message: str, value: Value = None
    ) -> None:
        if write in self._writes:
            self._writes.remove(write)
        if write.timer is not None:
            write.timer.cancel()
        if not write.future.done():
            write.future.set_result(
                CommandResult(
                    write.command.id,
                    write.tag,
                    state,
                    value=value if value is not None else write.value,
                    message=message,
                    time=self._wall(),
                )
            )


def _same(read: Value, written: Value) -> bool:
    """The read-back of a write: a float32 metric holds the written value only to its
    precision (0.1 reads 0.10000000149)."""
    if (
        isinstance(read, float)
        and isinstance(written, int | float)
        and not isinstance(written, bool)
    ):
        return math.isclose(read, written, rel_tol=1e-6, abs_tol=1e-9)
    return read == written


def _node(s: SparkplugDevice) -> str:
    return f"{s.group}/{s.edge_node}" + (f"/{s.device}" if s.device else "")
