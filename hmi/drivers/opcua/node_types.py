"""The servers' own data types of the tags' nodes, so a write is sent in the node's type.

A tag's ``type`` is what the plant expects; the node may hold another (a float64 tag on a
Float node, a uint16 tag on an Int32 one). A server refuses a value of another type
(``BadTypeMismatch``), so the line reads every node's DataType once per subscription and
writes in it: the value, checked against the tag's type already, is converted to the
node's when it fits, and refused with the reason when it does not (a fraction for an
integer node, a number beyond the node's range).
"""

from __future__ import annotations

from collections.abc import Iterable

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds

from hmi.core.sample import Value

#: integer built-in types and their ranges
_INTEGERS: dict[str, tuple[int, int]] = {
    "SByte": (-(2**7), 2**7 - 1),
    "Byte": (0, 2**8 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "UInt16": (0, 2**16 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "UInt32": (0, 2**32 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt64": (0, 2**64 - 1),
}
_FLOATS = ("Float", "Double")
#: the built-in types a tag's value can be written as
WRITABLE = (*_INTEGERS, *_FLOATS, "Boolean", "String")


async def read_node_types(client: Client, nodes: Iterable[str]) -> dict[str, str]:
    """Node id -> its built-in data type name, for the nodes whose type is one of
    :data:`WRITABLE` (one Read request for all)."""
    listed = list(nodes)
    if not listed:
        return {}
    parameters = ua.ReadParameters()
    for node in listed:
        read = ua.ReadValueId()
        read.NodeId = ua.NodeId.from_string(node)
        read.AttributeId = AttributeIds.DataType
        parameters.NodesToRead.append(read)
    values = await client.uaclient.read(parameters)
    types: dict[str, str] = {}
    for node, value in zip(listed, values, strict=True):
        type_id = value.Value.Value if value.Value is not None else None
        if (
            isinstance(type_id, ua.NodeId)
            and type_id.NamespaceIndex == 0
            and isinstance(type_id.Identifier, int)
        ):
            try:
                name = ua.VariantType(type_id.Identifier).name
            except ValueError:
                continue
            if name in WRITABLE:
                types[node] = name
    return types


def as_node_type(value: Value, node_type: str) -> Value:
    """``value`` in the node's type; ValueError with the reason when it does not fit."""
    if node_type in _INTEGERS:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"the node holds {node_type}: {value!r} is not a whole number")
            value = int(value)
        if not isinstance(value, int):
            raise ValueError(f"the node holds {node_type}, not {type(value).__name__}")
        low, high = _INTEGERS[node_type]
        if not low <= value <= high:
            raise ValueError(f"the node holds {node_type}: {value} is outside {low}..{high}")
        return value
    if node_type in _FLOATS:
        if isinstance(value, str):
            raise ValueError(f"the node holds {node_type}, not text")
        return float(value) if value is not None else value
    if node_type == "Boolean":
        if isinstance(value, str):
            raise ValueError("the node holds Boolean, not text")
        return bool(value)
    if not isinstance(value, str):
        raise ValueError(f"the node holds String, not {type(value).__name__}")
    return value
