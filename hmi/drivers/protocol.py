"""The protocol plug-in interface: what a protocol implements to run devices.

A protocol plug-in is one object (found by :func:`hmi.project.protocols.load_protocol`:
the shipped ones, or the ``hmi.protocols`` entry-point group) that is both

- its project side, :class:`hmi.project.protocols.ProtocolSpec`: it reads its own device
  fields and tag addresses, with ``file:line: field: message`` errors; and
- its driver side, :class:`ProtocolPlugin` below: it groups devices into *lines* (one
  connection and one task: a TCP device, a serial port shared by RTU units, an OPC UA
  session, an MQTT connection), opens them, and turns a checked write command into its
  own write plan.

What stays shared, in :class:`~hmi.drivers.manager.DriverManager` and the driver actor,
whatever the protocol: the session check and authorization of writes (the project's
grants), the tag's limits, the audit intent recorded before a write is sent, result
publishing, runtime add/change/remove of devices and tags. A line answers every write it
accepts with a :class:`~hmi.core.command.CommandResult` (CONFIRMED only after a read-back,
OVERRIDDEN when the device holds another value during the settle time, see
:mod:`hmi.drivers.writes` for the shared wording).

A line reports through its :class:`~hmi.drivers.sink.Sink`: ``samples(batch)`` with the
*changed* samples, at most one call per scan or notification burst (never per sample),
quality per :mod:`hmi.core.quality` (BAD ``NOT_CONNECTED``/``NO_COMMUNICATION`` while its
link is down, values kept); and ``status(DeviceStatus)`` per device, every
``status_interval`` and at once when ``connected``/``communicating`` change (the alarm
engine raises the device's communication alarm from it).

A polling protocol (Modbus) schedules reads by poll group; a subscription protocol (OPC
UA monitored items, Sparkplug B) sets up its subscriptions in ``run`` after connecting,
uses the tag's poll group period as its sampling interval unless the tag says otherwise,
and pushes notifications to the sink as they come. Neither is visible to the manager.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from hmi.core.command import Command, CommandResult
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.drivers.sink import Sink
from hmi.project.model import DeviceConfig
from hmi.project.protocols import ProtocolSpec, UnknownProtocol, load_protocol


@runtime_checkable
class DeviceLine(Protocol):
    """One connection of a protocol and the task that serves its devices."""

    #: the line's key (:meth:`ProtocolPlugin.line_key` of its devices)
    key: str

    @property
    def devices(self) -> list[str]:
        """Names of the devices on this line."""

    def config(self, device: str) -> DeviceConfig:
        """The configuration of one device of this line."""

    def set_device(self, config: DeviceConfig, tags: Iterable[Tag]) -> list[str]:
        """Add a device or replace its tags (also while running: re-plan reads or
        subscriptions); returns the names of the tags it no longer has."""

    def remove_device(self, name: str) -> list[str]:
        """Stop serving ``name``; returns its tag names (the manager marks them BAD).
        Its pending writes are answered FAILED."""

    def last_samples(self, device: str) -> Mapping[str, Sample]:
        """The last published sample of every tag of ``device``."""

    async def run(self) -> None:
        """Connect, serve and reconnect (capped backoff) until :meth:`stop` or
        cancellation; on the way out close the connection and answer pending writes
        FAILED ("driver stopped")."""

    def stop(self) -> None:
        """Ask :meth:`run` to end soon (cooperative); never raises."""

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
        """Queue a checked write (``plan`` from :meth:`ProtocolPlugin.plan_write`); the
        future always gets a result, TIMED_OUT after ``timeout`` without an answer.
        Writes run in the order submitted; one read back as written is watched for
        ``settle`` seconds before it is CONFIRMED (OVERRIDDEN if the value moves away)."""


@runtime_checkable
class ProtocolPlugin(ProtocolSpec, Protocol):
    """A protocol: its project side (:class:`ProtocolSpec`) and its driver side."""

    def line_key(self, config: DeviceConfig) -> str:
        """Which line ``config`` is on; devices with one key share a line (and must have
        the same link settings, :meth:`same_link`)."""

    def same_link(self, old: DeviceConfig, new: DeviceConfig) -> bool:
        """True when changing ``old`` to ``new`` needs no new connection."""

    def open_line(
        self, key: str, sink: Sink, poll_groups: Mapping[str, float], **options: Any
    ) -> DeviceLine:
        """A new, not yet running line. ``options`` are the manager's line options
        (``wall_clock``, ``status_interval``, ``reconnect_base``, ``log_interval``,
        ``on_scan`` and protocol-specific ones such as Modbus' ``link_factory``); a line
        takes the ones it knows and ignores the rest."""

    def plan_write(self, command: Command, tag: Tag) -> Any:
        """What to send for ``command`` to ``tag`` (already authorized and within the
        tag's limits); raise :class:`~hmi.drivers.write_checks.Rejected` with the reason for
        a value the point cannot take (type range, fractions, a read-only address)."""


#: plug-ins already checked to be runnable, by name: ``isinstance`` against a runtime
#: protocol walks all its members (about 30 us), and every write asks for its plug-in
_runnable: dict[str, ProtocolPlugin] = {}


def driver_plugin(name: str) -> ProtocolPlugin:
    """The plug-in of protocol ``name`` (see :func:`hmi.project.protocols.load_protocol`)."""
    plugin = load_protocol(name)
    checked = _runnable.get(name)
    if checked is not None and checked is plugin:
        return checked
    if not isinstance(plugin, ProtocolPlugin):
        raise UnknownProtocol(f"protocol plug-in {name!r} cannot run devices")
    _runnable[name] = plugin
    return plugin
