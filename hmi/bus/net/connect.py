"""Joining a broker: a bus whose publications and RPC reach other nodes over ZeroMQ."""

from __future__ import annotations

from typing import Any

from hmi.bus.local.bus import Bus
from hmi.bus.local.clock import Clock
from hmi.bus.net.transport import ZmqTransport


async def connect(
    address: str | None = None,
    *,
    name: str = "node",
    clock: Clock | None = None,
    **options: Any,
) -> Bus:
    """A bus joined to a broker over ZeroMQ (call inside the running loop).

    ``address`` is the broker's front address (``tcp://host:port`` or ``ipc://path``);
    None finds it as :func:`hmi.bus.net.discovery.resolve` documents. ``options`` go to
    :meth:`hmi.bus.net.transport.ZmqTransport.open` (keys, heartbeat interval, ...):
    ``wait`` (default 5 s) bounds the wait for the broker's welcome, then
    ConnectionError; ``wait=None`` returns at once and never raises, the node joining
    whenever the broker answers (``await bus.transport.wait_connected()``);
    ``discover=False`` skips the UDP probe.
    """
    bus = Bus(clock=clock, name=name)
    bus.attach_transport(await ZmqTransport.open(bus, address, **options))
    return bus
