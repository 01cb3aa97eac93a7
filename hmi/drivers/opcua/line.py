"""One OPC UA server: a session, one subscription of monitored items, reconnects, writes.

Values arrive by subscription, never by polling: every tag is a monitored item sampled
at its poll group's period (or its own ``sampling_interval``), with the tag's deadband
as the server's data-change filter. The notifications of one publish response become one
batch for the sink (report by exception, as a Modbus scan).

When the connection is lost (the server stopped, the network failed, its keep-alive
probe unanswered) every tag turns BAD ``not connected`` at once, its value kept, the
device's status says ``connected: false`` (its communication alarm), and the line
reconnects with capped, jittered backoff; a new session gets a new subscription and the
server sends every item's current value, so the tags turn GOOD again.

Writes go through :mod:`hmi.drivers.opcua.writes`: write, read back, watch the settle
time; their results use the same words as Modbus ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.status_codes import get_name_and_doc
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.modbus import ChangeFilter
from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample
from hmi.core.tag import DataType, Tag
from hmi.drivers.errlog import ErrorLog
from hmi.drivers.opcua.items import Item
from hmi.drivers.opcua.node_types import read_node_types
from hmi.drivers.opcua.security import SecuritySetupError, open_client
from hmi.drivers.opcua.settings import OpcUaSettings
from hmi.drivers.opcua.subscription import (
    BatchSubscription,
    batch_of,
    open_subscription,
    refusal_samples,
)
from hmi.drivers.opcua.writes import OpcUaWrite, WriteRunner
from hmi.drivers.sink import Sink
from hmi.drivers.status import DeviceStats
from hmi.project.model import DeviceConfig

log = logging.getLogger(__name__)


class OpcUaLine:
    """Serves one OPC UA device (see the module docstring); a :class:`DeviceLine`."""

    def __init__(
        self,
        key: str,
        sink: Sink,
        poll_groups: Mapping[str, float],
        *,
        wall_clock: Callable[[], float] = time.time,
        status_interval: float = 1.0,
        reconnect_base: float = 0.1,
        log_interval: float = 60.0,
        **_other_protocols: Any,
    ) -> None:
        self.key = key
        self._sink = sink
        self._poll_groups = dict(poll_groups)
        self._wall = wall_clock
        self._status_interval = status_interval
        self._reconnect_base = reconnect_base
        self.errors = ErrorLog(log, log_interval)
        self._config: DeviceConfig | None = None
        self._tags: dict[str, Tag] = {}
        self._items: dict[int, Item] = {}
        self.filter = ChangeFilter()
        self.stats: DeviceStats | None = None
        self._writes = WriteRunner(self)
        self._wake = asyncio.Event()
        self._replan = False
        self._stopping = False
        self._lost: asyncio.Future[Exception] | None = None
        self._subscription: BatchSubscription | None = None
        self._status_timer: asyncio.TimerHandle | None = None
        #: node id -> its built-in data type, read at each subscription
        self._node_types: dict[str, str] = {}

    # -- configuration -------------------------------------------------------------------
    @property
    def devices(self) -> list[str]:
        """The one device of this line (none once removed)."""
        return [self._config.name] if self._config is not None else []

    def config(self, device: str) -> DeviceConfig:
        """The device's configuration."""
        if self._config is None or self._config.name != device:
            raise KeyError(device)
        return self._config

    @property
    def settings(self) -> OpcUaSettings:
        """The device's OPC UA settings."""
        assert self._config is not None and isinstance(self._config.settings, OpcUaSettings)
        return self._config.settings

    @property
    def name(self) -> str:
        """The device's name."""
        return self._config.name if self._config is not None else self.key

    @property
    def tags(self) -> Mapping[str, Tag]:
        """The device's tags by name."""
        return self._tags

    def set_device(self, config: DeviceConfig, tags: Iterable[Tag]) -> list[str]:
        """Take the device and its tags; a running line re-subscribes."""
        new = {t.name: t for t in tags if t.source is not None}
        removed = [name for name in self._tags if name not in new]
        self._config, self._tags = config, new
        if self.stats is None:
            self.stats = DeviceStats(config.name, self.errors.report)
        self.filter.forget(removed)
        for tag in new.values():
            assert tag.source is not None
            self.filter.set_deadband(tag.name, tag.source.deadband)
        self._replan = True
        self._wake.set()
        return removed

    def remove_device(self, name: str) -> list[str]:
        """Forget the device; its pending writes fail; returns its tag names."""
        if self._config is None or self._config.name != name:
            return []
        names = list(self._tags)
        self.errors.forget(name)
        self._writes.fail_all("removed from the driver", "the device was removed before it settled")
        self._config, self._tags = None, {}
        self.stop()
        return names

    def last_samples(self, device: str) -> Mapping[str, Sample]:
        """The last published sample of every tag."""
        return self.filter.last

    # -- the task ------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, subscribe, serve writes, reconnect; until stopped or cancelled."""
        loop = asyncio.get_running_loop()
        self._status_timer = loop.call_later(self._status_interval, self._publish_status)
        attempt = 0
        try:
            while not self._stopping and self._config is not None:
                client = None
                try:
                    client = await self._connect()
                    attempt = 0
                    await self._serve(client)
                except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:
                    if self._stopping:
                        break
                    connected = self.stats is not None and self.stats.connected
                    self._down(self._describe(exc), "connection" if connected else "connect")
                finally:
                    if client is not None:
                        await self._close(client)
                if self._stopping or self._config is None:
                    break
                await self._sleep(self._backoff(attempt))
                attempt += 1
        finally:
            if self._status_timer is not None:
                self._status_timer.cancel()
            self._writes.fail_all("the driver stopped", "the driver stopped before it settled")

    def stop(self) -> None:
        """Ask :meth:`run` to end (cooperative)."""
        self._stopping = True
        self._wake.set()

    async def _connect(self) -> Client:
        config = self._config
        assert config is not None
        # set_security asks the server for its endpoints when no certificate is pinned:
        # bounded like the connect itself.
        client = await asyncio.wait_for(
            open_client(self.settings, config.name, config.timeout), 4 * config.timeout
        )
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[Exception] = loop.create_future()
        self._lost = lost

        async def on_lost(exc: Exception) -> None:
            if not lost.done():
                lost.set_result(exc)
            self._wake.set()

        client.connection_lost_callback = on_lost
        try:
            # A connect is several requests (hello, channel, session, activation).
            await asyncio.wait_for(client.connect(auto_reconnect=False), 4 * config.timeout)
        except BaseException:
            await self._close(client)
            raise
        stats = self.stats
        assert stats is not None
        stats.connected = True
        stats.answered()
        self._report()
        self._replan = True
        return client

    async def _serve(self, client: Client) -> None:
        """Subscribe, then run writes as they come, until the connection is lost."""
        lost = self._lost
        assert lost is not None
        while not self._stopping and self._config is not None:
            if lost.done():
                raise ConnectionError(_loss(lost.result()))
            if self._replan:
                self._replan = False
                await self._subscribe(client)
                continue
            if self._writes.pending:
                await self._writes.run(client)
                continue
            self._wake.clear()
            if not (self._replan or self._writes.pending or lost.done() or self._stopping):
                await self._wake.wait()

    async def _subscribe(self, client: Client) -> None:
        """(Re)create the subscription with one monitored item per tag."""
        old, self._subscription = self._subscription, None
        if old is not None:
            try:
                await old.delete()
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                raise
            except Exception:
                log.debug("%s: deleting the old subscription failed", self.name, exc_info=True)
        config = self._config
        assert config is not None
        items = {
            tag.name: Item.of(tag, config.name, self._poll_groups.get(tag.source.poll_group, 1.0))
            for tag in self._tags.values()
            if tag.source is not None
        }
        self._items = {}
        if not items:
            return
        numeric = [
            (item, self._tags[name].data_type not in _NOT_NUMERIC) for name, item in items.items()
        ]
        try:
            self._node_types = await read_node_types(client, [i.node for i in items.values()])
        except (UaError, OSError, TimeoutError) as exc:
            # Writes then go in the tags' types; the server says if it minds.
            log.debug("%s: cannot read the nodes' data types: %s", self.name, exc)
            self._node_types = {}
        self._subscription, refused = await open_subscription(
            client, numeric, self.settings.publishing_interval, self.on_publish, self._items
        )
        self._publish(refusal_samples(refused, items, self.filter.last, self._wall()))

    def on_publish(self, result: ua.PublishResult) -> None:
        """One publish response: its data changes as one batch."""
        stats = self.stats
        if not result.NotificationMessage.NotificationData or stats is None:
            return  # a keep-alive
        if not stats.connected:
            return  # in flight when the connection was declared lost: not current
        batch = batch_of(result, self._items, self.filter.last, self._wall(), self.name)
        stats.ok(0.0)  # one publish response: a "request" in the device's statistics
        self._publish(batch)

    def _publish(self, batch: Mapping[str, Sample]) -> None:
        if batch:
            changed = self.filter.changed(batch)
            if changed:
                self._sink.samples(changed)

    # -- losing and finding the server ----------------------------------------------------
    def _down(self, message: str, kind: str) -> None:
        """The server is out of reach: every tag BAD (values kept), the status says so."""
        stats = self.stats
        if stats is None:
            return
        stats.disconnected()
        stats.error(kind, message, self._wall())
        self._items = {}
        self._writes.fail_all("not connected", "the link was lost before it settled")
        now = self._wall()
        quality = Quality.bad(Reason.NOT_CONNECTED, message)
        last = self.filter.last
        batch = {
            name: last[name].degraded(quality, now)
            if name in last
            else Sample(None, quality, now, now)
            for name in self._tags
        }
        self._publish(batch)
        self._report(force=stats.errors.get(kind) == 1)

    def _describe(self, exc: BaseException) -> str:
        endpoint = self.settings.endpoint if self._config is not None else "?"
        if isinstance(exc, SecuritySetupError):
            return str(exc)
        if isinstance(exc, ConnectionRefusedError):
            return f"{self.name}: cannot connect to {endpoint}: connection refused"
        if isinstance(exc, TimeoutError | asyncio.TimeoutError):
            return f"{self.name}: no answer from {endpoint}"
        if isinstance(exc, UaStatusCodeError):
            code = getattr(exc, "code", None)
            name = get_name_and_doc(code)[0] if isinstance(code, int) else type(exc).__name__
            return f"{self.name}: {endpoint} refused: {name}"
        if isinstance(exc, ConnectionError):
            return f"{self.name}: lost {endpoint}: {exc}"
        return f"{self.name}: {endpoint}: {type(exc).__name__}: {exc}"

    async def _close(self, client: Client) -> None:
        self._subscription = None
        try:
            await asyncio.wait_for(client.disconnect(), 2.0)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except Exception:
            log.debug("%s: disconnect failed", self.name, exc_info=True)
            try:
                client.disconnect_socket()
            except Exception:
                log.debug("%s: closing the socket failed", self.name, exc_info=True)

    def _backoff(self, attempt: int) -> float:
        """Exponential from ``reconnect_base``, capped, with jitter (0.5 to 1 times)."""
        cap = max(self._reconnect_base, self._config.reconnect_max if self._config else 10.0)
        return min(cap, self._reconnect_base * 2.0 ** min(attempt, 30)) * (
            0.5 + 0.5 * random.random()
        )

    async def _sleep(self, seconds: float) -> None:
        """Sleep, or less when stopped."""
        self._wake.clear()
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    # -- status --------------------------------------------------------------------------
    def _report(self, *, force: bool = False) -> None:
        stats = self.stats
        if stats is not None and (force or stats.changed):
            monotonic = asyncio.get_running_loop().time()
            self._sink.status(stats.snapshot(self._wall(), monotonic, window=False))

    def report(self) -> None:
        """Publish the status now if connected or communicating changed."""
        self._report()

    def _publish_status(self) -> None:
        loop = asyncio.get_running_loop()
        self._status_timer = loop.call_later(self._status_interval, self._publish_status)
        self.errors.flush()
        if self.stats is not None and self._config is not None:
            self._sink.status(self.stats.snapshot(self._wall(), loop.time()))

    # -- writes --------------------------------------------------------------------------
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
        """Queue a checked write (see :mod:`hmi.drivers.opcua.writes`)."""
        assert isinstance(plan, OpcUaWrite)
        why = ""
        if self._config is None or device != self._config.name:
            why = "device removed"
        elif self.stats is None or not self.stats.connected:
            # Not queued until a reconnect: the operator learns now, not at the timeout.
            why = f"{device}: not connected"
        if why:
            failed = CommandState.FAILED
            future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
            future.set_result(
                CommandResult(command.id, command.tag, failed, None, why, time.time())
            )
            return future
        future = self._writes.submit(plan, command, timeout, tag, settle)
        self._wake.set()
        return future

    def publish_value(self, tag: str, sample: Sample) -> None:
        """Publish what the server holds for ``tag`` (a read-back or settle read)."""
        self._publish({tag: sample})

    def node_type(self, node: str) -> str | None:
        """The server's data type of ``node`` (read at subscription), or None."""
        return self._node_types.get(node)

    def period_of(self, tag: str) -> float:
        """The poll group period of ``tag`` (its settle reads' pace)."""
        found = self._tags.get(tag)
        group = found.source.poll_group if found is not None and found.source else "normal"
        return self._poll_groups.get(group, 1.0)


_NOT_NUMERIC = (DataType.BOOL, DataType.STRING)


def _loss(cause: Exception) -> str:
    """Why asyncua's watchdog declared the connection lost, in words."""
    if isinstance(cause, TimeoutError | asyncio.TimeoutError):
        return "no answer to the keep-alive (server or network stalled)"
    if isinstance(cause, ConnectionError | OSError):
        return "the connection closed"
    return str(cause) or type(cause).__name__
