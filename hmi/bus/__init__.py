"""The bus: actors, topics, codec, transports (in-memory, zmq), broker, RPC. No Qt.

Public API::

    from hmi.bus import Bus, Actor, Supervisor, expose, RemoteError, RpcTimeout
    from hmi.bus.clock import Clock, RealClock, VirtualClock, ScaledClock
    from hmi.bus.samples import encode_samples, decode_samples
    from hmi.bus.messages import encode_command, decode_command, encode_result, decode_result
    from hmi.bus.store import bind_store

See docs/bus-protocol.md for topics and the wire format.
"""

from hmi.bus.actor import Actor
from hmi.bus.bus import Bus, BusStats, Subscription
from hmi.bus.clock import Clock, RealClock, ScaledClock, VirtualClock
from hmi.bus.rpc import RemoteError, RpcTimeout, expose
from hmi.bus.samples import MalformedPayload, decode_samples, encode_samples
from hmi.bus.store import bind_store
from hmi.bus.supervisor import Supervisor

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
    "decode_samples",
    "encode_samples",
    "expose",
]
