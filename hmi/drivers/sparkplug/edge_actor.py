"""The plant's tags as a Sparkplug B edge node on an MQTT broker: an actor on our bus.

It reads every ``tag/`` batch of the bus (the same samples the stations' tag stores get),
keeps the latest sample of each published tag, and on the MQTT side:

- registers the session's NDEATH as the MQTT will before each connect (``bdSeq``);
- on each connect: subscribes to its NCMD and DCMD topics, publishes NBIRTH and DBIRTH
  with every published tag (name, alias, datatype, value, ``Quality``);
- then publishes a DDATA per bus batch, by exception (only tags whose value or quality
  changed), by alias;
- on NCMD ``Node Control/Rebirth``: births again (with the current values);
- on DCMD: each metric's write through :class:`~hmi.drivers.sparkplug.commands.CommandGate`
  (authorized and audited like an operator's write);
- on a clean stop: publishes NDEATH, then disconnects.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hmi.bus import Actor, MalformedPayload
from hmi.bus.wire.samples import decode_quality
from hmi.core.sample import Sample
from hmi.drivers.secrets import read_secret
from hmi.drivers.sparkplug.commands import Audit, CommandGate
from hmi.drivers.sparkplug.edge import EdgeNode, Rebirth, Refused, Row, Write
from hmi.drivers.sparkplug.mqtt import MqttLink, MqttSettings
from hmi.drivers.sparkplug.payload import GOOD_CODE, quality_code, quality_of
from hmi.drivers.sparkplug.session import ServiceSession, SessionUnavailable
from hmi.drivers.sparkplug.topics import MessageType, TopicError, parse
from hmi.project import Project
from hmi.project.sparkplug_section import SparkplugConfig

log = logging.getLogger(__name__)

_VALUES = (bool, int, float, str, type(None))
_TIMES = (float, int)


def mqtt_settings(config: SparkplugConfig) -> MqttSettings:
    """The MQTT connection of ``config``, its password read (SecretError when it cannot)."""
    return MqttSettings.parse(
        config.broker,
        client_id=config.client_id or f"hmi-{config.group}-{config.edge_node}",
        username=config.username,
        password=read_secret(config.password, "sparkplug.password"),
        ca_file=config.ca_file,
        cert_file=config.cert_file,
        key_file=config.key_file,
        keepalive=config.keepalive,
    )


class SparkplugEdge(Actor):
    """Publishes ``project``'s tags (those ``project.sparkplug`` selects) as an edge node.

    ``audit(event)`` records DCMD writes refused before the bus (default: published on
    ``audit/refused`` for the backend's audit recorder). Raises SecretError at start when
    a password named by the section cannot be read.
    """

    name = "sparkplug"

    def __init__(
        self,
        project: Project,
        *,
        audit: Audit | None = None,
        name: str | None = None,
        config: SparkplugConfig | None = None,
    ) -> None:
        super().__init__(name)
        config = config or project.sparkplug
        if config is None:
            raise ValueError("the project has no sparkplug: section")
        self.config = config
        self.settings = mqtt_settings(config)
        self._command_password = (
            read_secret(config.command_password, "sparkplug.commands.password")
            if config.command_user
            else ""
        )
        tags = [t for t in project.tags.values() if config.selects(t.name)]
        self.node = EdgeNode(
            config.group, config.edge_node, config.device, [(t.name, t.data_type) for t in tags]
        )
        #: the latest row of each published tag (births are made of them)
        self._latest: dict[str, Row] = {}
        self._audit = audit
        self.link: MqttLink | None = None
        self.gate: CommandGate | None = None
        self._session: ServiceSession | None = None
        #: counters, for tests and benchmarks
        self.births = 0
        self.data_messages = 0

    async def setup(self) -> None:
        """Subscribe to the bus's samples and start the MQTT connection."""
        if self.config.command_user:
            self._session = ServiceSession(
                self.bus,
                self.config.command_user,
                self._command_password,
                host=self.settings.describe(),
            )
            # at once, not at the first DCMD: a wrong password is told when the node starts
            self.spawn(self._first_login(self._session), name=f"{self.name}.login")
        self.gate = CommandGate(
            self.bus,
            self._session,
            published=self.node.types.__contains__,
            audit=self._audit or self._publish_refusal,
            origin=self.settings.describe(),
            old_value=lambda tag: self._latest[tag][1] if tag in self._latest else None,
        )
        self.subscribe("tag/#", self._on_batch)
        self.link = MqttLink(
            self.settings,
            on_connect=self._on_connect,
            on_message=self._on_message,
            will=lambda: self.node.session(self.clock.time()),
        )
        self.link.start()

    async def _first_login(self, session: ServiceSession) -> None:
        try:
            await session.token()
        except SessionUnavailable as exc:
            log.error("sparkplug: DCMD writes are refused until a login works: %s", exc)
        else:
            log.info("sparkplug: DCMD writes are made as %s", session.user)

    async def teardown(self) -> None:
        """NDEATH, disconnect, and log the service user out."""
        if self.link is not None:
            await self.link.stop(self.node.death(self.clock.time()))
        if self._session is not None:
            await self._session.close()

    # -- the bus ---------------------------------------------------------------------------
    def _on_batch(self, topic: str, payload: Any) -> None:
        # The hot path (a message per driver scan): the wire rows are read here, only
        # the published tags' (hmi.bus.wire.samples documents the format; anything else
        # is dropped like decode_samples drops it).
        types = self.node.types
        latest = self._latest
        rows: list[Row] = []
        append = rows.append
        try:
            if type(payload) is not list:
                raise MalformedPayload(f"samples must be a list, not {type(payload).__name__}")
            for name, value, q, when in payload:
                if name in types:
                    if type(value) not in _VALUES or type(when) not in _TIMES:
                        raise MalformedPayload(f"bad sample entry for {name!r}")
                    code = GOOD_CODE if q == 0 else quality_code(decode_quality(q))
                    latest[name] = row = (name, value, code, when)
                    append(row)
        except (TypeError, ValueError) as exc:
            log.warning("sparkplug: dropped malformed samples on %r: %s", topic, exc)
            return
        if rows:
            self._send(rows)

    def publish_changes(self, batch: Mapping[str, Sample]) -> None:
        """Keep ``batch``'s samples of published tags; send a DDATA of what changed."""
        types = self.node.types
        rows = [
            (n, s.value, quality_code(s.quality), s.source_time)
            for n, s in batch.items()
            if n in types
        ]
        if rows:
            self._latest.update((row[0], row) for row in rows)
            self._send(rows)

    def _send(self, rows: list[Row]) -> None:
        link = self.link
        if link is None or not link.connected:
            return  # the next births carry them
        message = self.node.data_rows(rows, self.clock.time())
        if message is not None:
            link.publish(*message)
            self.data_messages += 1

    @property
    def samples(self) -> dict[str, Sample]:
        """The latest sample of every published tag heard on the bus."""
        return {name: Sample(v, quality_of(q), t) for name, (_, v, q, t) in self._latest.items()}

    # -- MQTT ------------------------------------------------------------------------------
    def _on_connect(self) -> None:
        link = self.link
        assert link is not None
        link.subscribe(self.node.topic(MessageType.NCMD), qos=1)
        link.subscribe(self.node.topic(MessageType.DCMD), qos=1)
        self._birth()

    def _birth(self) -> None:
        link = self.link
        assert link is not None
        for topic, body in self.node.births(self.samples, self.clock.time()):
            link.publish(topic, body)
        self.births += 1
        log.info(
            "sparkplug: %s born with %d metrics on %s",
            self.node.topic(MessageType.NBIRTH),
            len(self.node.types),
            self.settings.describe(),
        )

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            where = parse(topic)
        except TopicError:
            return
        for event in self.node.command(where, payload):
            if isinstance(event, Rebirth):
                self._birth()
            elif isinstance(event, Write):
                self.spawn(self._write(event), name=f"{self.name}.dcmd")
            elif isinstance(event, Refused):
                assert self.gate is not None
                self.gate.refuse(event.metric, None, event.why)

    async def _write(self, event: Write) -> None:
        assert self.gate is not None
        await self.gate.write(event.tag, event.value)

    def _publish_refusal(self, event: dict[str, Any]) -> None:
        self.publish("audit/refused", event)
