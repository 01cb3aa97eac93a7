"""Ingest: edge nodes of others on an MQTT broker turned into samples of our tags.

:class:`SparkplugIngest` owns one MQTT connection (:class:`~hmi.drivers.sparkplug.mqtt.
MqttLink`) and a :class:`~hmi.drivers.sparkplug.host.HostState`: it subscribes to the
edge nodes its bindings name, hands every message to the state, sends the rebirth
requests the state asks for (NCMD ``Node Control/Rebirth``), checks staleness on a timer,
and gives the samples that changed to ``on_samples`` (one call per message or check).
A DCMD write to a bound metric is :meth:`SparkplugIngest.command`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from hmi.core.sample import Sample, Value
from hmi.drivers.sparkplug import payload as sp
from hmi.drivers.sparkplug.edge import REBIRTH
from hmi.drivers.sparkplug.host import Binding, HostState, Update
from hmi.drivers.sparkplug.mqtt import MqttLink, MqttSettings
from hmi.drivers.sparkplug.topics import MessageType, TopicError, parse, subscription, topic

log = logging.getLogger(__name__)

#: ``on_samples(batch)``: the changed samples of bound tags
SampleSink = Callable[[dict[str, Sample]], None]


class SparkplugIngest:
    """Bound tags' samples from the edge nodes of one MQTT broker."""

    def __init__(
        self,
        settings: MqttSettings,
        on_samples: SampleSink,
        *,
        stale_after: float = 0.0,
        clock: Callable[[], float] = time.time,
        on_link: Callable[[bool], None] = lambda up: None,
    ) -> None:
        self.settings = settings
        self.state = HostState(stale_after)
        self._on_samples = on_samples
        self._clock = clock
        self._on_link = on_link
        self._subscribed: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._started = False
        self.link = MqttLink(
            settings,
            on_connect=self._connected,
            on_message=self._message,
            on_disconnect=self._disconnected,
        )
        #: counters, for status and tests
        self.messages = 0
        self.rebirths_asked = 0

    # -- life -----------------------------------------------------------------------------
    def bind(self, bindings: Iterable[Binding]) -> None:
        """Serve these tags; subscribes to their edge nodes when connected."""
        self.state.bind(bindings)
        if self.link.connected:
            self._subscribe()
            self._emit(self.state.connected())  # their births, for the new tags' values

    def unbind(self, tags: Iterable[str]) -> None:
        """Stop serving ``tags`` (their subscriptions stay until the next session)."""
        self.state.unbind(tags)

    def set_stale_after(self, group: str, edge_node: str, seconds: float) -> None:
        """The staleness bound of one bound edge node (0: never stale)."""
        self.state.set_stale_after(group, edge_node, seconds)
        if self._started:
            self._schedule()

    def start(self) -> None:
        """Connect (in the background; reconnects by itself) and start the stale timer."""
        self._started = True
        self.link.start()
        self._schedule()

    async def stop(self) -> None:
        """Disconnect."""
        if self._timer is not None:
            self._timer.cancel()
        await self.link.stop()

    # -- MQTT -----------------------------------------------------------------------------
    def _connected(self) -> None:
        self._subscribed.clear()
        self._subscribe()
        self._on_link(True)
        self._emit(self.state.connected())

    def _subscribe(self) -> None:
        for group, edge in self.state.nodes:
            pattern = subscription(group, edge)
            if pattern not in self._subscribed:
                self.link.subscribe(pattern, qos=1)
                self._subscribed.add(pattern)

    def _disconnected(self, reason: str) -> None:
        self._on_link(False)
        why = f"MQTT broker {self.settings.describe()} lost ({reason})"
        self._emit(self.state.lost(why, self._clock()))

    def _message(self, name: str, data: bytes) -> None:
        try:
            where = parse(name)
        except TopicError:
            return
        self.messages += 1
        self._emit(self.state.receive(where, data, self._clock()))

    def _emit(self, update: Update) -> None:
        for group, edge in update.rebirth:
            self.rebirth(group, edge)
        if update.samples:
            self._on_samples(update.samples)

    def rebirth(self, group: str, edge_node: str) -> None:
        """Ask ``edge_node`` of ``group`` for new births (NCMD ``Node Control/Rebirth``)."""
        if not self.link.connected:
            return
        metric = sp.Metric(name=REBIRTH, datatype=sp.BOOLEAN, value=True)
        body = sp.encode([metric], timestamp=sp.to_ms(self._clock()), seq=None)
        self.link.publish(topic(group, MessageType.NCMD, edge_node), body, qos=1)
        self.rebirths_asked += 1
        log.info("sparkplug: asked %s/%s for a rebirth", group, edge_node)

    def command(self, binding: Binding, datatype: int, value: Value) -> bool:
        """Publish a DCMD (NCMD for a node metric) writing ``value`` to ``binding``'s
        metric; False when not connected (nothing sent)."""
        if not self.link.connected:
            return False
        metric = sp.Metric(name=binding.metric, datatype=datatype, value=value)
        body = sp.encode([metric], timestamp=sp.to_ms(self._clock()), seq=None)
        kind = MessageType.DCMD if binding.device else MessageType.NCMD
        name = topic(binding.group, kind, binding.edge_node, binding.device)
        self.link.publish(name, body, qos=1)
        return True

    # -- staleness ------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        bound = self.state.shortest_stale_after
        if bound > 0:
            # a quarter of the bound: a silent node is marked at most 25 % late
            self._timer = asyncio.get_running_loop().call_later(bound / 4, self._check)

    def _check(self) -> None:
        self._emit(self.state.stale(self._clock()))
        self._schedule()

    def describe(self) -> dict[str, Any]:
        """Counters, for the line's status."""
        return {
            "messages": self.messages,
            "gaps": self.state.gaps,
            "rebirths_asked": self.rebirths_asked,
            "malformed": self.state.malformed,
        }
