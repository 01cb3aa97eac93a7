"""A node's fast path: publications straight into the broker's proxy (no Python hop).

A broker without a client policy names an endpoint in its welcome (``"pub"``); the node
connects an XPUB there and publishes ``[topic][header][payload]`` on it, frames unchanged
(see docs/bus-protocol.md, "Fast path"). An XPUB rather than a PUB because it tells when
the broker's subscription to everything has arrived: until then a PUB would drop
publications silently, so the node keeps sending through its DEALER until it is ready.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import zmq

from hmi.bus.net.zmqio import Reader, node_socket

if TYPE_CHECKING:
    from hmi.bus.net.keys import ClientKeys

#: the broker's tap subscribes to everything: the empty prefix
_SUBSCRIBE_ALL = b"\x01"
_UNSUBSCRIBE_ALL = b"\x00"


def fast_endpoint(announced: Any, front: str) -> str:
    """The endpoint to connect to for an endpoint the broker announced, or '' for none.

    For tcp the host is the one the node reached the front at (the broker binds the fast
    path where it binds its front, possibly ``*``); only the port comes from the broker.
    """
    if not isinstance(announced, str) or not announced or len(announced) > 255:
        return ""
    if announced.startswith("tcp://") and front.startswith("tcp://"):
        port = announced.rpartition(":")[2]
        if not port.isdigit():
            return ""
        return f"{front.rpartition(':')[0]}:{port}"
    if announced.startswith("ipc://") and front.startswith("ipc://"):
        return announced
    return ""


class FastPublisher:
    """An XPUB connected to the broker's fast endpoint; ``ready`` once it may be used."""

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        *,
        hwm: int,
        keys: ClientKeys | None = None,
    ) -> None:
        self.endpoint = endpoint
        #: set once the broker's subscription to everything arrived (``usable``: the same)
        self.ready = asyncio.Event()
        self.usable = False
        sock = node_socket(ctx, zmq.XPUB, hwm, keys)
        # At the high-water mark a send raises zmq.Again (counted), never drops silently.
        sock.setsockopt(zmq.XPUB_NODROP, 1)
        sock.connect(endpoint)
        self.sock = sock
        self._reader = Reader(sock, self._on_subscription)
        self._reader.start()

    def _on_subscription(self, frames: list[bytes]) -> None:
        # The broker forwards its subscribers' prefixes too; only "everything" matters.
        if frames[0] == _SUBSCRIBE_ALL:
            self.usable = True
            self.ready.set()
        elif frames[0] == _UNSUBSCRIBE_ALL:
            self.usable = False
            self.ready.clear()

    def poll(self) -> None:
        """Look for subscription changes (sends can swallow the socket's read signal)."""
        self._reader.kick()

    def close(self) -> None:
        """Stop using the fast path."""
        self.usable = False
        self.ready.clear()
        self._reader.close()
        self.sock.close()
