"""The broker: routes publications and RPC between nodes, checks who is talking at its
doors, keeps the roster of nodes and the last-value cache, and reports its statistics.
"""

from hmi.bus.broker.server import BROKER_NICE, Broker

__all__ = ["BROKER_NICE", "Broker"]
