"""The Sparkplug B topic namespace: ``spBv1.0/<group>/<type>/<edge node>[/<device>]``.

Pure: builds and parses topic names, nothing else. Group, edge node and device ids may not
contain the MQTT separators and wildcards (``/``, ``+``, ``#``), nor be empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

NAMESPACE = "spBv1.0"
#: what a Sparkplug id (group, edge node, device) may be: no MQTT separator or wildcard
ID = re.compile(r"^[^/+#\s]{1,128}$")


class MessageType(StrEnum):
    """The Sparkplug B message types an edge node and a host exchange."""

    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    NDATA = "NDATA"
    DDATA = "DDATA"
    NCMD = "NCMD"
    DCMD = "DCMD"

    @property
    def of_device(self) -> bool:
        """True for the types whose topic names a device."""
        return self.value.startswith("D")


@dataclass(frozen=True, slots=True)
class Topic:
    """One parsed Sparkplug topic."""

    group: str
    type: MessageType
    edge_node: str
    device: str = ""

    def __str__(self) -> str:
        return topic(self.group, self.type, self.edge_node, self.device)


class TopicError(ValueError):
    """A topic outside the Sparkplug B namespace, or malformed inside it."""


def check_id(value: str, what: str) -> str:
    """``value`` if it is a usable Sparkplug id, else ValueError naming ``what``."""
    if not ID.match(value):
        raise ValueError(f"{what} {value!r}: 1 to 128 characters, none of / + # or spaces")
    return value


def topic(group: str, kind: MessageType, edge_node: str, device: str = "") -> str:
    """The topic of a ``kind`` message of ``edge_node`` (and ``device``) in ``group``."""
    base = f"{NAMESPACE}/{group}/{kind.value}/{edge_node}"
    return f"{base}/{device}" if device else base


def parse(name: str) -> Topic:
    """The parts of a Sparkplug B topic; TopicError for anything else (STATE included)."""
    parts = name.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        raise TopicError(f"not a Sparkplug B edge topic: {name!r}")
    try:
        kind = MessageType(parts[2])
    except ValueError:
        raise TopicError(f"unknown Sparkplug message type {parts[2]!r} in {name!r}") from None
    if kind.of_device != (len(parts) == 5):
        raise TopicError(f"{kind.value} {'needs' if kind.of_device else 'has no'} device id")
    if not all(ID.match(part) for part in parts[1:]):
        raise TopicError(f"malformed Sparkplug id in {name!r}")
    return Topic(parts[1], kind, parts[3], parts[4] if len(parts) == 5 else "")


def subscription(group: str = "+", edge_node: str = "+") -> str:
    """The MQTT filter of every edge message of ``edge_node`` in ``group`` (``+``: any)."""
    return f"{NAMESPACE}/{group}/+/{edge_node}/#"
