"""The device manager: lines by connection, runtime add/change/remove, closed-loop writes.

Independent of the bus: results go to a :class:`~hmi.drivers.sink.Sink`. The driver actor
(:mod:`hmi.drivers.actor`) wraps it for the bus; tests and benchmarks use it directly.
Each device's ``protocol`` names the plug-in that runs it (:mod:`hmi.drivers.protocol`),
which groups devices into lines: Modbus TCP devices get a line each (one client per
device, polled concurrently); RTU devices sharing a serial port share a line (polled one
after another, as a half-duplex bus needs); an OPC UA server is a session of its own.
Authorization, limits and results of writes are the same for every protocol.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from hmi.core.command import Command, CommandResult, CommandState, settle_time
from hmi.core.identity import Identity
from hmi.core.permissions import Grants
from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.drivers.protocol import DeviceLine, ProtocolPlugin, driver_plugin
from hmi.drivers.sink import Sink
from hmi.drivers.write_checks import (
    DEFAULT_GRANTS,
    Authorizer,
    Rejected,
    check_write,
    role_check,
    session_authorizer,
)
from hmi.project.model import DEFAULT_POLL_GROUPS, DeviceConfig, Project

log = logging.getLogger(__name__)


def line_key(config: DeviceConfig) -> str:
    """Which line a device is on (its protocol's key, prefixed with the protocol)."""
    return f"{config.protocol}/{driver_plugin(config.protocol).line_key(config)}"


class DriverManager:
    """Runs the lines of a set of devices (any protocol) and executes write commands."""

    def __init__(
        self,
        sink: Sink,
        poll_groups: Mapping[str, float] = DEFAULT_POLL_GROUPS,
        *,
        authorize: Authorizer = role_check,
        grants: Grants = DEFAULT_GRANTS,
        write_timeout: float = 5.0,
        **line_options: Any,
    ) -> None:
        self._sink = sink
        self.poll_groups = dict(poll_groups)
        self._authorize = authorize
        #: who may write what, for commands of a verified session (the project's)
        self.grants = grants
        self._write_timeout = write_timeout
        self._line_options = line_options
        self.devices: dict[str, DeviceConfig] = {}
        self.tags: dict[str, Tag] = {}
        self._lines: dict[str, DeviceLine] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running = False

    @classmethod
    def for_project(cls, project: Project, sink: Sink, **options: Any) -> DriverManager:
        """A manager for every device of ``project`` (started with :meth:`start`), whose
        verified sessions write under the project's grants."""
        options.setdefault("grants", project.grants)
        manager = cls(sink, project.poll_groups, **options)
        tags = project.tags_by_device()
        for device in project.devices.values():
            manager.add_device(device, tags[device.name])
        return manager

    # -- life -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start polling every enabled device."""
        self._running = True
        for key in self._lines:
            self._start_line(key)

    async def stop(self) -> None:
        """Stop every line and close its connection."""
        self._running = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for line in self._lines.values():
            line.stop()
        # Cooperative first: a request (or write) in flight finishes or times out. Then
        # cancel; the line honours a cancellation even where pymodbus' wait_for swallows
        # it (see Line.run), so this never hangs a node's shutdown.
        _, pending = await asyncio.wait(tasks, timeout=1.0) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    def _start_line(self, key: str) -> None:
        if self._running and key not in self._tasks and self._lines[key].devices:
            task = asyncio.get_running_loop().create_task(
                self._lines[key].run(), name=f"line {key}"
            )
            task.add_done_callback(functools.partial(self._ended, self._lines[key]))
            self._tasks[key] = task

    def _ended(self, line: DeviceLine, task: asyncio.Task[None]) -> None:
        """A line's task ended. By a bug (a line handles every device failure itself),
        its devices' values would freeze GOOD with no one saying why: logged with its
        traceback, and every tag of the line BAD ``device failure``."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("line %s stopped: %s", task.get_name(), exc, exc_info=exc)
        names = [t.name for t in self.tags.values() if t.source and t.source.device in line.devices]
        self._publish_bad(names, Reason.DEVICE_FAILURE, f"driver error: {exc}")

    async def _stop_line(self, key: str) -> None:
        line = self._lines.pop(key, None)
        if line is not None:
            line.stop()
        task = self._tasks.pop(key, None)
        if task is not None:
            done, _ = await asyncio.wait([task], timeout=1.0)
            if not done:
                task.cancel()
                await asyncio.wait([task], timeout=1.0)

    # -- devices and tags ---------------------------------------------------------------------
    def add_device(self, config: DeviceConfig, tags: Iterable[Tag] = ()) -> None:
        """Add a device and its tags; it starts polling if the manager runs."""
        if config.name in self.devices:
            raise ValueError(f"device {config.name!r} exists; use update_device")
        tags = [t for t in tags if t.source is not None and t.source.device == config.name]
        plugin = driver_plugin(config.protocol)
        key = line_key(config)
        line = self._lines.get(key)
        if line is not None and line.devices:
            other = line.config(line.devices[0])
            if not plugin.same_link(other, config):
                fields = other.link_differences(config) or ("link settings",)
                verb = "differs" if len(fields) == 1 else "differ"
                raise ValueError(
                    f"{config.name}: {', '.join(fields)} {verb} from {other.name}'s on one line"
                )
        self.devices[config.name] = config
        self.tags.update((t.name, t) for t in tags)
        if not config.enabled:
            self._publish_bad([t.name for t in tags], Reason.OUT_OF_SERVICE, "device disabled")
            return
        if line is None:
            line = self._lines[key] = plugin.open_line(
                key, self._sink, self.poll_groups, **self._line_options
            )
        line.set_device(config, tags)
        self._start_line(key)

    async def update_device(self, config: DeviceConfig, tags: Iterable[Tag] | None = None) -> None:
        """Change a device's settings (and tags, if given); reconnects only if needed."""
        old = self.devices.get(config.name)
        if old is None:
            raise KeyError(f"no device {config.name!r}")
        if tags is None:
            tags = [t for t in self.tags.values() if t.source and t.source.device == config.name]
        tags = list(tags)
        same = old.protocol == config.protocol and _plugin(config).same_link(old, config)
        if old.enabled and config.enabled and same:
            self.devices[config.name] = config
            self._set_device_tags(config, tags)
            return
        await self.remove_device(config.name, publish=False)
        self.add_device(config, tags)

    async def remove_device(self, name: str, *, publish: bool = True) -> None:
        """Stop polling ``name``; its tags go BAD (out of service) and are forgotten."""
        config = self.devices.pop(name, None)
        if config is None:
            raise KeyError(f"no device {name!r}")
        names = [n for n, t in self.tags.items() if t.source and t.source.device == name]
        for tag in names:
            del self.tags[tag]
        key = line_key(config)
        line = self._lines.get(key)
        if line is not None and name in line.devices:
            line.remove_device(name)
            if not line.devices:
                await self._stop_line(key)
        if publish:
            self._publish_bad(names, Reason.OUT_OF_SERVICE, f"device {name} removed")

    def set_tags(self, tags: Iterable[Tag]) -> None:
        """Add or replace device tags (each on the device its source names)."""
        by_device: dict[str, list[Tag]] = {}
        for tag in tags:
            if tag.source is None or tag.source.device not in self.devices:
                raise KeyError(f"tag {tag.name!r}: no such device")
            by_device.setdefault(tag.source.device, []).append(tag)
        for device, new in by_device.items():
            keep = {t.name: t for t in self.tags.values() if t.source and t.source.device == device}
            keep.update((t.name, t) for t in new)
            self._set_device_tags(self.devices[device], list(keep.values()))

    def remove_tags(self, names: Iterable[str]) -> None:
        """Stop polling the named tags; they go BAD (out of service)."""
        gone = [n for n in names if n in self.tags]
        devices = {s.device for n in gone if (s := self.tags[n].source) is not None}
        for name in gone:
            del self.tags[name]
        for device in devices:
            tags = [t for t in self.tags.values() if t.source and t.source.device == device]
            self._set_device_tags(self.devices[device], tags)
        self._publish_bad(gone, Reason.OUT_OF_SERVICE, "tag removed")

    def _set_device_tags(self, config: DeviceConfig, tags: list[Tag]) -> None:
        for tag in tags:
            self.tags[tag.name] = tag
        line = self._lines.get(line_key(config))
        if line is not None and config.name in line.devices:
            removed = line.set_device(config, tags)
            for name in removed:
                self.tags.pop(name, None)
            self._publish_bad(removed, Reason.OUT_OF_SERVICE, "tag removed")

    def _publish_bad(self, names: list[str], reason: Reason, detail: str) -> None:
        if names:
            now = time.time()
            quality = Quality.bad(reason, detail)
            self._sink.samples({n: Sample(None, quality, now, now) for n in names})

    # -- writes ---------------------------------------------------------------------------------
    async def write(self, command: Command, identity: Identity | None = None) -> CommandResult:
        """Check and execute ``command``; never raises: the result says what happened.

        See :meth:`submit` for ``identity``.
        """
        return await self.submit(command, identity)

    def submit(
        self, command: Command, identity: Identity | None = None
    ) -> asyncio.Future[CommandResult]:
        """Check ``command`` and queue it on its line at once; the future gets the result.

        ``identity`` is the verified session the command came with: its user and roles
        decide under :attr:`grants` (the user the command claims must be the session's),
        and the write is carried out in that user's name. Without it, the manager's own
        ``authorize`` decides (by default the roles the command claims: for tests and
        benchmarks). Writes submitted one after another run in that order. A write read
        back as written is watched for its settle time (the tag's ``settle``, else its
        device's, else two poll periods: :func:`hmi.core.command.settle_time`) before
        it is confirmed; a device that overrides it answers OVERRIDDEN.
        """
        prepared = self.prepare(command, identity)
        return prepared if isinstance(prepared, asyncio.Future) else self.queue(prepared)

    def prepare(
        self, command: Command, identity: Identity | None = None
    ) -> PreparedWrite | asyncio.Future[CommandResult]:
        """Every check of :meth:`submit` (rights, limits, encoding, device running): what
        to queue, or the future of its refusal. Between the two a caller may record the
        write (the driver actor's audit intent: nothing is written that is not recorded)."""
        tag = self.tags.get(command.tag)
        if tag is None or tag.source is None:
            return _done(command, CommandState.REJECTED, f"{command.tag} is not a device tag here")
        if identity is None:
            authorize = self._authorize
        else:
            authorize = session_authorizer(identity, self.grants)
        config = self.devices[tag.source.device]
        try:
            check_write(command, tag, authorize)
            plan = _plugin(config).plan_write(command, tag)
        except Rejected as exc:
            return _done(command, CommandState.REJECTED, str(exc))
        except Exception as exc:
            # A bug in checking it: the operator still gets an answer (never a write
            # left without one), and the log gets the traceback.
            log.exception("write %s = %r could not be checked", command.tag, command.value)
            why = f"{command.tag}: the write could not be checked ({type(exc).__name__})"
            return _done(command, CommandState.REJECTED, why)
        if identity is not None:
            command = dataclasses.replace(command, user=identity.user, roles=identity.roles)
        key = line_key(config)
        line = self._lines.get(key)
        if line is None or not config.enabled or key not in self._tasks:
            return _done(command, CommandState.FAILED, f"device {config.name} is not running")
        period = self.poll_groups.get(tag.source.poll_group, 1.0)
        settle = settle_time(tag.source.settle, config.settle, period)
        return PreparedWrite(line, config.name, plan, command, tag, settle)

    def queue(self, prepared: PreparedWrite) -> asyncio.Future[CommandResult]:
        """Queue a prepared write on its line; the future gets the result."""
        return prepared.line.submit(
            prepared.device,
            prepared.plan,
            prepared.command,
            self._write_timeout,
            tag=prepared.tag,
            settle=prepared.settle,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class PreparedWrite:
    """A write that passed every check, ready for its line."""

    line: DeviceLine
    device: str
    #: the protocol's write plan (:meth:`ProtocolPlugin.plan_write`)
    plan: Any
    command: Command
    tag: Tag
    settle: float


def _plugin(config: DeviceConfig) -> ProtocolPlugin:
    return driver_plugin(config.protocol)


def _done(command: Command, state: CommandState, message: str) -> asyncio.Future[CommandResult]:
    future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
    future.set_result(CommandResult(command.id, command.tag, state, None, message, time.time()))
    return future
