"""One MQTT connection for asyncio code: paho-mqtt 2 (callback API version 2) on the
event loop, with a writer thread.

paho's reading runs on the owner's loop (paho's documented external-loop use: the socket's
reader is the loop's, ``loop_misc`` every second for keepalive), so every callback runs on
the loop. Writing runs in a thread of the link's own (reads and writes one at a time, a
lock; over TLS the loop writes too): a publish only queues the packet (paho's ``publish``
from the loop, no system call) and wakes the writer when its queue was empty; the writer
sends while the loop goes on making the next messages, the sends' system calls
overlapping the loop's work as paho's own threaded mode does (measured against raw paho
in benchmarks/bench_sparkplug.py: 0.7 to 1.0 of its rate, 0.55 to 0.64 with every send
made by the loop, docs/drivers.md). Only the blocking part of connecting (TCP connect,
TLS handshake) runs in a worker thread. The link reconnects by itself with a capped
backoff.

The will is asked for just before every (re)connect: a Sparkplug edge node's NDEATH
carries the ``bdSeq`` of the session it ends, so each session registers its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)

#: seconds between reconnects: from 1 doubling up to this
RECONNECT_MAX = 30
#: in a burst, the loop sends what is queued itself after this many publishes
HELP_EVERY = 4


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where and how to connect: ``mqtt://host:port`` or ``mqtts://host:port`` (TLS)."""

    host: str
    port: int = 1883
    tls: bool = False
    client_id: str = ""
    username: str = ""
    #: read from a file or the environment by whoever builds this, never from argv
    password: str = ""
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive: int = 30

    @classmethod
    def parse(cls, url: str, **fields: Any) -> MqttSettings:
        """Settings of ``url`` (``mqtt://`` or ``mqtts://``) and ``fields``."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError(f"expected mqtt://HOST:PORT or mqtts://HOST:PORT, found {url!r}")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls, **fields)

    def describe(self) -> str:
        """The broker in words, for log lines (never the password)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class MqttLink:
    """A paho client owned by asyncio code; start with :meth:`start`, end with :meth:`stop`.

    ``on_connect()`` runs on the loop after each successful CONNACK (subscribe and publish
    births there), ``on_message(topic, payload)`` per message, ``on_disconnect(reason)``
    when a session ends. ``will()`` gives the (topic, payload) to register before each
    connect, or None for none.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        on_connect: Callable[[], None],
        on_message: Callable[[str, bytes], None],
        on_disconnect: Callable[[str], None] = lambda reason: None,
        will: Callable[[], tuple[str, bytes]] | None = None,
    ) -> None:
        self.settings = settings
        self._on_connect = on_connect
        self._on_message = on_message
        self._on_disconnect = on_disconnect
        self._will = will
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._closing = False
        self._said = ""
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._writer_done = False
        #: one of reading (the loop) and writing (the writer) at a time: paho's read and
        #: write paths share state that its own threaded mode never runs concurrently
        self._io = threading.Lock()
        #: the writer thread for plain TCP; over TLS the loop writes too: an SSL
        #: connection is then used by one thread only (OpenSSL's objects are not made to be
        #: shared; the lock would serialize them, one thread needs no argument)
        self._threaded = not settings.tls
        self._since_help = 0
        #: the last message of a clean stop, and its PUBACK
        self._last_mid: int | None = None
        self._acked = asyncio.Event()
        self.connected = False
        #: set while a session is up (tests and callers wait on it)
        self.up = asyncio.Event()
        self.client = self._client()

    def _client(self) -> paho.Client:
        s = self.settings
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            clean_session=True,
            protocol=paho.MQTTv311,
        )
        if s.username:
            client.username_pw_set(s.username, s.password or None)
        if s.tls:
            client.tls_set(
                ca_certs=str(s.ca_file) if s.ca_file else None,
                certfile=str(s.cert_file) if s.cert_file else None,
                keyfile=str(s.key_file) if s.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        # Births and data go out when they are made; a burst must not wait on paho's
        # default 20-message in-flight window (QoS 0 does not use it, QoS 1 would).
        client.max_inflight_messages_set(1000)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._written
        client.connect_async(s.host, s.port, keepalive=s.keepalive)
        return client

    # -- paho's callbacks -----------------------------------------------------------------
    def _in_loop(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func`` on the loop: at once from it, else (the connecting worker) soon."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            func(*args)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(func, *args)

    def _socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        # by number: when the loop gets to it, paho may have closed the socket (fd -1)
        self._in_loop(self._add_reader, sock.fileno())

    def _add_reader(self, fd: int) -> None:
        assert self._loop is not None
        self._loop.add_reader(fd, self._read)

    def _read(self) -> None:
        with self._io:
            self.client.loop_read()

    def _socket_close(self, client: Any, userdata: Any, sock: Any) -> None:
        self._in_loop(self._remove, sock.fileno())

    def _remove(self, fd: int) -> None:
        assert self._loop is not None
        if fd >= 0:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)
        self._lost.set()

    def _want_write(self, client: Any, userdata: Any, sock: Any) -> None:
        # paho calls this when a packet is queued and none was waiting: any thread
        if self._threaded:
            self._wake.set()
        else:
            self._in_loop(self._add_writer, sock.fileno())

    def _written(self, client: Any, userdata: Any, sock: Any) -> None:
        if not self._threaded:  # (the writer thread looks at paho's queue itself)
            self._in_loop(self._remove_writer, sock.fileno())

    def _add_writer(self, fd: int) -> None:
        assert self._loop is not None
        if fd >= 0:
            self._loop.add_writer(fd, self._loop_write)

    def _remove_writer(self, fd: int) -> None:
        assert self._loop is not None
        if fd >= 0:
            self._loop.remove_writer(fd)

    def _loop_write(self) -> None:
        with self._io:
            self.client.loop_write()

    def _write(self) -> None:
        """The writer thread: send whatever paho has queued, until the link closes."""
        client = self.client
        while not self._writer_done:
            self._wake.wait(1.0)
            self._wake.clear()
            # paho may queue a packet between its last look and its "nothing to write"
            # (a wake-up it then skips): looking at the queue after each pass finds it
            while client.want_write() and not self._writer_done:
                with self._io:
                    client.loop_write()
                sock = client.socket()
                if sock is None:
                    break
                if client.want_write():  # the socket's buffer is full: wait until it drains
                    with contextlib.suppress(OSError, ValueError):
                        select.select([], [sock], [], 0.2)

    def _connected(self, client: Any, userdata: Any, flags: Any, code: Any, props: Any) -> None:
        if code.is_failure:
            self._say(f"connection refused: {code}")
            return
        self.connected = True
        self.up.set()
        self._said = ""
        log.info("MQTT %s: connected", self.settings.describe())
        self._on_connect()

    def _disconnected(self, client: Any, userdata: Any, flags: Any, code: Any, props: Any) -> None:
        was = self.connected
        self.connected = False
        # paho calls this from the writer thread too (after it sends DISCONNECT, or on a
        # write error): the events and the line's callbacks belong to the loop.
        self._in_loop(self._lost_connection, was, code)

    def _lost_connection(self, was: bool, code: Any) -> None:
        self.up.clear()
        self._lost.set()
        if was and not self._closing:
            log.warning("MQTT %s: connection lost (%s)", self.settings.describe(), code)
        if was:
            self._on_disconnect(code)

    def _published(self, client: Any, userdata: Any, mid: int, code: Any, props: Any) -> None:
        # from the loop (a PUBACK read) or the writer (a QoS 0 packet sent)
        if mid == self._last_mid:
            self._in_loop(self._acked.set)

    def _message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        self._on_message(message.topic, bytes(message.payload))

    def _say(self, why: str) -> None:
        """One log line per kind of failure while it lasts (not one per retry)."""
        if why != self._said:
            self._said = why
            log.warning("MQTT %s: %s; still trying", self.settings.describe(), why)

    # -- the owner's loop -----------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background, and again whenever the session ends."""
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="mqtt")
        if self._threaded:
            self._writer = threading.Thread(target=self._write, name="mqtt-writer", daemon=True)
            self._writer.start()

    async def _run(self) -> None:
        delay = 1.0
        client = self.client
        while not self._closing:
            if self._will is not None:
                topic, payload = self._will()
                client.will_set(topic, payload, qos=1, retain=False)
            self._lost.clear()
            try:
                # the blocking part (TCP connect, TLS handshake) off the loop
                await asyncio.to_thread(client.reconnect)
            except (OSError, ValueError) as exc:
                self._say(f"cannot connect ({exc})")
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            while not self._lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._lost.wait(), 1.0)
                client.loop_misc()  # keepalive pings; a silent broker ends the session
            if self._closing:
                break
            delay = 1.0 if self._said == "" else min(delay * 2, RECONNECT_MAX)
            await asyncio.sleep(delay)

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Queue ``payload`` on ``topic`` for the writer (lost while disconnected at QoS 0).

        In a burst (many publishes in one turn of the loop) the writer thread would wait
        for the interpreter's lock until the burst ends, the broker idle meanwhile: every
        :data:`HELP_EVERY` publishes the loop sends what is queued itself, if the writer
        is not sending just then (its system calls also let the writer in).
        """
        client = self.client
        client.publish(topic, payload, qos=qos)
        self._since_help += 1
        if self._since_help >= HELP_EVERY and self._threaded:
            self._since_help = 0
            if self._io.acquire(blocking=False):
                try:
                    client.loop_write()
                finally:
                    self._io.release()

    def subscribe(self, pattern: str, qos: int = 0) -> None:
        """Subscribe to ``pattern`` (call it from ``on_connect``: sessions are clean)."""
        self.client.subscribe(pattern, qos=qos)

    async def stop(self, last: tuple[str, bytes] | None = None) -> None:
        """Publish ``last`` (e.g. an NDEATH: a clean disconnect sends no will), disconnect
        and end the connection's task. Packets go out in order: ``last`` before the
        DISCONNECT."""
        self._closing = True
        client = self.client
        if self.connected:
            if last is not None:
                # QoS 1, and the DISCONNECT only once the broker acknowledged it: the broker
                # handles a client's packets in order, so everything before it arrived too
                # (Mosquitto 2.0 over TLS loses what a client sent just before a quick
                # close: seen with paho's own threaded client as well)
                # (set only now: paho makes two objects per packet sent for this callback,
                # a third of a DDATA's cost when set all along)
                client.on_publish = self._published
                self._last_mid = client.publish(last[0], last[1], qos=1).mid
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._acked.wait(), 2.0)
            client.disconnect()
            # paho closes the socket once the DISCONNECT is written; bounded, the broker
            # may be gone
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), 2.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._writer_done = True
        self._wake.set()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.join, 2.0)
        sock = client.socket()
        if self._loop is not None and sock is not None:  # no session: the broker never answered
            self._remove(sock.fileno())
            client.disconnect()
            with self._io, contextlib.suppress(OSError, ValueError):
                client.loop_write()  # paho closes the socket once the DISCONNECT is out
        self.connected = False
        self.up.clear()
