"""The bus: actors, topics, codec, transports (in-memory, zmq), broker, RPC. No Qt.

Four subpackages, each importing only those below it (an import-linter contract):
``broker`` (the broker process), ``net`` (a node's connection to it), ``local`` (the
in-process bus and actors), ``wire`` (the protocol, pure).

Public API::

    from hmi.bus import Bus, Actor, Supervisor, expose, RemoteError, RpcTimeout
    bus = await hmi.bus.connect("tcp://host:port", name="node")   # a bus joined to a broker
    from hmi.bus.local.clock import Clock, RealClock, VirtualClock, ScaledClock
    from hmi.bus.wire.samples import encode_samples, decode_samples
    from hmi.bus.wire.messages import encode_command, decode_command, encode_result, decode_result
    from hmi.bus.local.store import bind_store

See docs/bus-protocol.md for topics and the wire format.
"""

from typing import TYPE_CHECKING, Any

from hmi.bus.local.actor import Actor
from hmi.bus.local.bus import Bus, BusStats, Subscription
from hmi.bus.local.clock import Clock, RealClock, ScaledClock, VirtualClock
from hmi.bus.local.rpc import RemoteError, RpcTimeout, expose
from hmi.bus.local.store import bind_store
from hmi.bus.local.supervisor import Supervisor
from hmi.bus.wire.samples import MalformedPayload, decode_samples, encode_samples

if TYPE_CHECKING:
    from hmi.bus.net.connect import connect


def __getattr__(name: str) -> Any:
    # ``connect`` pulls in zmq and the transport: only processes that join a broker pay it.
    if name == "connect":
        from hmi.bus.net.connect import connect

        return connect
    raise AttributeError(f"module 'hmi.bus' has no attribute {name!r}")


__all__ = [
    "Actor",
    "Bus",
    "BusStats",
    "Clock",
    "MalformedPayload",
    "RealClock",
    "RemoteError",
    "RpcTimeout",
    "ScaledClock",
    "Subscription",
    "Supervisor",
    "VirtualClock",
    "bind_store",
    "connect",
    "decode_samples",
    "encode_samples",
    "expose",
]
