"""The driver actor: the device manager on the bus, plus calculated tags.

Topics:
- publishes sample batches on ``tag/<actor name>`` (one message per scan),
- publishes device status on ``$sys/device/<device>``,
- takes write requests from ``cmd/<tag>`` for its tags and answers every one of them on
  ``result/<tag>`` (rejections too: the audit pairs each command with its result),
- evaluates calculated tags from every ``tag/`` batch and publishes them on
  ``tag/<actor name>/calc``.

RPC (target = actor name): ``add_device(device, tags)``, ``update_device(device, tags)``,
``remove_device(name)``, ``set_tags(tags)``, ``remove_tags(names)`` need the
``edit_devices`` permission (checked at dispatch: the caller passes ``token=``) and are
audited, allowed or failed, with the old and new definitions; ``devices()`` is for
anyone. Devices and tags are given as dicts with the fields of the project file.

Writes: a command is carried out only for a session the actor has verified, never for
what the command claims (see :mod:`hmi.drivers.auth`), so every driver actor is built
with a :data:`~hmi.drivers.auth.SessionVerifier`; only once per command id and while its
time is recent (:mod:`hmi.drivers.replay`); only from the node its session logged in on;
and only as the project's grants allow. Commands are verified concurrently but queued on
their lines in the order they arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import yaml

from hmi.bus import Actor, expose
from hmi.bus.wire.messages import decode_command, encode_result
from hmi.bus.wire.samples import MalformedPayload, decode_samples, encode_samples
from hmi.bus.wire.topics import CMD, SYS, result_topic, tag_topic
from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.expression import Expression
from hmi.core.identity import Identity
from hmi.core.permissions import Permission
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.drivers.auth import InvalidSession, SessionVerifier, node_refusal, verify_session
from hmi.drivers.manager import DriverManager
from hmi.drivers.protocol import driver_plugin
from hmi.drivers.replay import MAX_AGE, ReplayGuard
from hmi.drivers.status import DeviceStatus
from hmi.drivers.write_checks import Rejected
from hmi.project.loader import parse_project
from hmi.project.model import DeviceConfig, Project

log = logging.getLogger(__name__)

#: ``audit(event)``: records an audit event (a dict of :class:`~hmi.services.audit.
#: AuditEntry` fields); by default the actor publishes it on ``audit/edit``
AuditSink = Callable[[dict[str, Any]], None]
#: ``await intend(command)``: the write's audit row is stored (the backend's
#: ``audit.intend``); raises, its text for the operator, when the write must not be made
WriteIntent = Callable[[Command], Awaitable[None]]


class DriverActor(Actor):
    """Runs the devices of a project, any protocol (see the module docstring).

    ``verify`` checks the session token of every command (in a plant:
    :func:`hmi.drivers.auth.remote_verifier` of the bus); a command's time must be within
    ``max_command_age`` seconds of ``clock()`` (wall-clock seconds, like the commands'
    times); ``audit`` records the device edits (default: published on ``audit/edit`` for
    the backend's audit recorder); ``options`` go to :class:`DriverManager` (timeouts, a
    link factory, ...).
    """

    name = "drivers"

    def __init__(
        self,
        project: Project,
        name: str | None = None,
        *,
        verify: SessionVerifier,
        max_command_age: float = MAX_AGE,
        clock: Callable[[], float] = time.time,
        audit: AuditSink | None = None,
        intend: WriteIntent | None = None,
        **options: Any,
    ) -> None:
        if "authorize" in options:
            # The manager's authorizer is its library default; the actor decides by the
            # verified session alone, so an authorizer here would be silently unused.
            raise TypeError("DriverActor checks sessions with verify=, not authorize=")
        super().__init__(name)
        self.project = project
        self._verify = verify
        self._replay = ReplayGuard(max_command_age)
        self._clock = clock
        self._audit = audit
        self._intend = intend
        self._options = options
        self.manager: DriverManager | None = None
        self._calcs = {
            t.name: Expression.parse(t.expression)
            for t in project.tags.values()
            if t.expression is not None
        }
        self._inputs: dict[str, Sample] = {}
        self._calc_out: dict[str, Sample] = {}
        #: resolved once the latest command so far is queued (or answered): the next one
        #: waits for it, so commands verified out of order are still written in order
        self._queued: asyncio.Future[None] | None = None

    # -- life -------------------------------------------------------------------------------
    async def setup(self) -> None:
        self.manager = DriverManager.for_project(self.project, self, **self._options)
        self.subscribe(CMD + "#", self._on_command)
        if self._calcs:
            self.subscribe("tag/#", self._on_samples)
        await self.manager.start()

    async def teardown(self) -> None:
        if self.manager is not None:
            await self.manager.stop()

    # -- Sink ---------------------------------------------------------------------------------
    def samples(self, batch: Mapping[str, Sample]) -> None:
        """One scan's samples -> one bus message."""
        self.publish(tag_topic(self.name), encode_samples(batch))
        if self._calcs:
            self._calculate(batch)

    def status(self, status: DeviceStatus) -> None:
        """A device's link status -> ``$sys/device/<name>``."""
        self.publish(f"{SYS}device/{status.device}", status.to_dict())

    # -- commands -------------------------------------------------------------------------------
    def _on_command(self, topic: str, payload: Any) -> Any:
        manager = self.manager
        tag = topic[len(CMD) :]
        if manager is None or tag not in manager.tags:
            return None  # another node's tag
        try:
            command = decode_command(payload)
        except MalformedPayload as exc:
            log.warning("dropped malformed command on %s: %s", topic, exc)
            return None
        previous, queued = self._queued, asyncio.get_running_loop().create_future()
        self._queued = queued
        # The sender is known only while the transport delivers the message: now.
        sender = self.bus.current_sender
        return self._write(manager, tag, command, previous, queued, sender=sender)

    async def _write(
        self,
        manager: DriverManager,
        tag: str,
        command: Command,
        previous: asyncio.Future[None] | None,
        queued: asyncio.Future[None],
        *,
        sender: str | None,
    ) -> None:
        """Verify ``command``'s session, then write it; publish the result either way."""
        try:
            verdict = await self._check(tag, command, sender)
            if previous is not None:
                await previous  # the commands that came before this one are queued
            if isinstance(verdict, Identity):
                prepared = manager.prepare(command, verdict)
                if isinstance(prepared, asyncio.Future):
                    answer = prepared  # refused by rights, limits or encoding
                else:
                    refusal = await self._record_intent(command)
                    answer = (
                        manager.queue(prepared) if not refusal else _rejected(command, tag, refusal)
                    )
            else:
                answer = _rejected(command, tag, verdict)
        finally:
            if not queued.done():
                queued.set_result(None)
        result = await answer
        identity = verdict if isinstance(verdict, Identity) else None
        self._log(command, identity, result)
        if identity is not None:
            result = dataclasses.replace(result, extra={**result.extra, "user": identity.user})
        self.publish(result_topic(tag), encode_result(result))

    async def _check(self, tag: str, command: Command, sender: str | None) -> Identity | str:
        """The verified identity of ``command``'s session, or why it is rejected.

        The cheap checks come first; the id is taken before the first ``await``, so two
        copies of one command delivered together cannot both pass.
        """
        if command.tag != tag:
            return f"topic and command disagree ({CMD}{tag} carries {command.tag})"
        if not command.token:
            return "not logged in (command carries no session token)"
        replayed = self._replay.admit(command.id, command.time, self._clock())
        if replayed:
            return replayed
        try:
            identity = await verify_session(command, self._verify)
        except InvalidSession as exc:
            self._replay.release(command.id)  # never acceptable: need not be remembered
            return str(exc)
        except Rejected as exc:
            # Kept: a command refused only because the service did not answer must not
            # be carried out when someone publishes it again later.
            return str(exc)
        refusal = node_refusal(identity, sender)
        if refusal:
            return refusal
        return identity

    async def _record_intent(self, command: Command) -> str:
        """Record the write before it is sent (nothing is written that is not recorded);
        why it may not be sent, or ``""``. Called once every other check passed, in the
        order commands arrived, so the audit's ``requested`` row means 'sent'."""
        if self._intend is None:
            return ""
        try:
            await self._intend(command)
        except Exception as exc:
            return str(exc) or "audit unavailable"
        return ""

    def _log(self, command: Command, identity: Identity | None, result: CommandResult) -> None:
        who = identity.user if identity else f"{command.user or '?'} (unverified)"
        level = logging.INFO if result.state is CommandState.CONFIRMED else logging.WARNING
        log.log(
            level,
            "write %s = %r by %s: %s%s",
            command.tag,
            command.value,
            who,
            result.state.value,
            f" ({result.message})" if result.message else "",
        )

    # -- calculated tags --------------------------------------------------------------------------
    def _on_samples(self, topic: str, payload: Any) -> None:
        if topic == tag_topic(self.name) + "/calc":
            return
        try:
            self._calculate(decode_samples(payload, time.time()))
        except MalformedPayload:
            return

    def _calculate(self, batch: Mapping[str, Sample]) -> None:
        self._inputs.update(batch)
        out: dict[str, Sample] = {}
        for _ in range(len(self._calcs)):  # calc-of-calc chains settle in <= n passes
            changed = False
            for name, expr in self._calcs.items():
                if not any(t in batch or t in out for t in expr.tags):
                    continue
                sample = expr.sample(self._inputs, time.time())
                previous = self._calc_out.get(name)
                if previous is None or (previous.value, previous.quality) != (
                    sample.value,
                    sample.quality,
                ):
                    self._calc_out[name] = self._inputs[name] = out[name] = sample
                    changed = True
            if not changed:
                break
        if out:
            self.publish(tag_topic(self.name) + "/calc", encode_samples(out))

    # -- RPC ------------------------------------------------------------------------------------
    def _parse(
        self, devices: list[dict[str, Any]], tags: list[dict[str, Any]]
    ) -> tuple[list[DeviceConfig], list[Tag]]:
        """Validate dicts exactly as the project loader does (errors name the field)."""
        assert self.manager is not None
        known = [
            _device_dict(d)
            for d in self.manager.devices.values()
            if d.name not in {x.get("name") for x in devices}
        ]
        text = yaml.safe_dump(
            {
                "name": "rpc",
                "roles": list(self.project.roles),
                "poll_groups": dict(self.manager.poll_groups),
                "devices": known + devices,
                "tags": tags,
            }
        )
        project = parse_project(text, "<rpc>")
        names = {d.get("name") for d in devices}
        return [d for d in project.devices.values() if d.name in names], list(project.tags.values())

    @expose(permission=Permission.EDIT_DEVICES)
    async def add_device(
        self, device: dict[str, Any], tags: list[dict[str, Any]], *, identity: Identity
    ) -> None:
        """Add a device and its tags; it starts polling at once."""
        name = _name_of(device)
        new = {"device": device, "tags": [_name_of(t) for t in tags]}
        with self._edit(identity, "add_device", name, None, new):
            [config], parsed = self._parse([device], tags)
            self._manager.add_device(config, parsed)

    @expose(permission=Permission.EDIT_DEVICES)
    async def update_device(
        self,
        device: dict[str, Any],
        tags: list[dict[str, Any]] | None = None,
        *,
        identity: Identity,
    ) -> None:
        """Change a device's settings (and its tags if given)."""
        name = _name_of(device)
        manager = self._manager
        before = manager.devices.get(name)
        old: dict[str, Any] | None = None
        if before is not None:
            old = {"device": _device_dict(before)}
            if tags is not None:
                old["tags"] = [_tag_summary(t) for t in _tags_of(manager, name)]
        new: dict[str, Any] = {"device": device}
        if tags is not None:
            new["tags"] = tags
        with self._edit(identity, "update_device", name, old, new):
            [config], parsed = self._parse([device], tags or [])
            await manager.update_device(config, parsed if tags is not None else None)

    @expose(permission=Permission.EDIT_DEVICES)
    async def remove_device(self, name: str, *, identity: Identity) -> None:
        """Stop polling a device; its tags go BAD (out of service)."""
        manager = self._manager
        before = manager.devices.get(name)
        old = None
        if before is not None:
            names = sorted(t.name for t in _tags_of(manager, name))
            old = {"device": _device_dict(before), "tags": names}
        with self._edit(identity, "remove_device", name, old, None):
            await manager.remove_device(name)

    @expose(permission=Permission.EDIT_DEVICES)
    def set_tags(self, tags: list[dict[str, Any]], *, identity: Identity) -> None:
        """Add or replace device tags."""
        manager = self._manager
        names = [_name_of(t) for t in tags]
        old = {n: _tag_summary(manager.tags[n]) if n in manager.tags else None for n in names}
        with self._edit(identity, "set_tags", ", ".join(names), old, tags):
            _, parsed = self._parse([], tags)
            manager.set_tags(parsed)

    @expose(permission=Permission.EDIT_DEVICES)
    def remove_tags(self, names: list[str], *, identity: Identity) -> None:
        """Stop polling tags; they go BAD (out of service)."""
        manager = self._manager
        old = {n: _tag_summary(manager.tags[n]) for n in names if n in manager.tags}
        with self._edit(identity, "remove_tags", ", ".join(map(str, names)), old, None):
            manager.remove_tags(names)

    @property
    def _manager(self) -> DriverManager:
        if self.manager is None:
            raise RuntimeError(f"driver actor {self.name!r} is not running")
        return self.manager

    @contextlib.contextmanager
    def _edit(
        self, identity: Identity, action: str, target: str, old: Any, new: Any
    ) -> Iterator[None]:
        """Audit the edit in the block: ``ok``, or ``failed`` with the error (re-raised)."""
        try:
            yield
        except Exception as exc:
            self._record(identity, action, target, old, new, outcome="failed", reason=str(exc))
            raise
        self._record(identity, action, target, old, new, outcome="ok")

    def _record(
        self,
        identity: Identity,
        action: str,
        target: str,
        old: Any,
        new: Any,
        *,
        outcome: str,
        reason: str = "",
    ) -> None:
        event = {
            "time": self._clock(),
            "user": identity.user,
            "action": f"{self.name}.{action}",
            "target": target,
            "old_value": old,
            "new_value": new,
            "outcome": outcome,
            "reason": reason,
            "node": identity.node,
        }
        log.info("%s by %s: %s %s", event["action"], identity.user, target, outcome)
        if self._audit is not None:
            self._audit(event)
        else:
            self.publish("audit/edit", event)

    @expose
    def devices(self) -> list[str]:
        """Names of the running devices."""
        return sorted(self.manager.devices) if self.manager else []


def _rejected(command: Command, tag: str, why: str) -> asyncio.Future[CommandResult]:
    """The (resolved) rejection of ``command``, received on ``cmd/<tag>``."""
    future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
    result = CommandResult(command.id, tag, CommandState.REJECTED, None, why, time.time())
    future.set_result(result)
    return future


def _name_of(definition: Any) -> str:
    """The name of a device or tag dict as given (the loader says what is wrong with it)."""
    return str(definition.get("name", "")) if isinstance(definition, Mapping) else ""


def _tags_of(manager: DriverManager, device: str) -> list[Tag]:
    return [t for t in manager.tags.values() if t.source and t.source.device == device]


def _tag_summary(tag: Tag) -> dict[str, Any]:
    """What an auditor needs of a tag's definition: where it is and who may set what."""
    source = tag.source
    return {
        "name": tag.name,
        "device": source.device if source else None,
        "address": str(source.address) if source else None,
        "type": tag.data_type.value,
        "write_roles": sorted(tag.write_roles),
        "low": tag.limits.low,
        "high": tag.limits.high,
    }


def _device_dict(config: DeviceConfig) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": config.name,
        "protocol": config.protocol,
        "timeout": config.timeout,
        "reconnect_max": config.reconnect_max,
        "enabled": config.enabled,
    }
    if config.settle is not None:
        data["settle"] = config.settle
    return data | driver_plugin(config.protocol).device_fields(config)
