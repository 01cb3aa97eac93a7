"""The bus of a node, as its deployment says: in memory, or joined to the broker.

A node joined to a broker never gives up on it: started before its broker, or refused by
it (a key its policy does not admit), it says so in one line and keeps trying; ZeroMQ
reconnects by itself and the node's hello reaches the broker whenever it is there.
"""

from __future__ import annotations

import logging

from hmi.app.deployment import Deployment
from hmi.bus import Bus, connect
from hmi.bus.local.clock import Clock

log = logging.getLogger(__name__)


async def open_bus(deployment: Deployment, *, clock: Clock | None = None, wait: bool = True) -> Bus:
    """The bus of ``deployment``; with ``wait``, only once the broker has welcomed it.

    Without ``wait`` (the operator station: its window comes first) the bus is returned at
    once and joins when it can; its transport's link state tells how that goes.
    """
    if deployment.local:
        return Bus.local(clock=clock, name=deployment.name)
    bus = await connect(
        deployment.broker,
        name=deployment.name,
        clock=clock,
        heartbeat=deployment.heartbeat,
        keys=deployment.keys,
        discover=deployment.discovery,
        wait=None,
    )
    if wait:
        transport = bus.transport
        assert transport is not None
        try:
            await transport.wait_connected()
        except BaseException:
            await bus.close()
            raise
    return bus
