"""``hmi opcua browse``: an OPC UA server's address space, and tag definitions from it.

Browses hierarchical references from a node (default: Objects) to a depth, reading each
variable's data type, value, status and access level in one request per node. What it
finds is printed as an indented tree, and can be written as the ``tags:`` entries of a
project file: one tag per variable of a type a tag can have, ``type`` matching the
server's, the node id as ``address``. Writable variables are marked in a comment but get
no ``write_roles``: who may operate a point is the project's decision (deny by default).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import yaml
from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.attribute_ids import AttributeIds

from hmi.core.tag import TAG_NAME, DataType

#: OPC UA built-in types a tag can have -> our data type
_TYPES: dict[str, DataType] = {
    "Boolean": DataType.BOOL,
    "SByte": DataType.INT16,
    "Byte": DataType.UINT16,
    "Int16": DataType.INT16,
    "UInt16": DataType.UINT16,
    "Int32": DataType.INT32,
    "UInt32": DataType.UINT32,
    "Int64": DataType.INT64,
    "UInt64": DataType.UINT64,
    "Float": DataType.FLOAT32,
    "Double": DataType.FLOAT64,
    "String": DataType.STRING,
}
_ATTRIBUTES = [
    AttributeIds.NodeClass,
    AttributeIds.BrowseName,
    AttributeIds.DataType,
    AttributeIds.Value,
    AttributeIds.AccessLevel,
]
_POINT = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Found:
    """One node of the address space."""

    node_id: str
    browse_name: str
    node_class: str
    depth: int
    #: the variable's OPC UA type name ("" for other nodes), value, status and writability
    data_type: str = ""
    value: object = None
    status: str = ""
    writable: bool = False
    #: the browse names from the start node down to this one
    path: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line of the tree."""
        line = f"{'  ' * self.depth}{self.browse_name}  [{self.node_class}]  {self.node_id}"
        if self.node_class == "Variable":
            value = repr(self.value)
            if len(value) > 40:
                value = value[:37] + "..."
            access = "rw" if self.writable else "r"
            line += f"  {self.data_type or '?'} = {value}  {access}"
            if self.status and self.status != "Good":
                line += f"  ({self.status})"
        return line


async def browse(client: Client, start: str | None, depth: int, limit: int) -> list[Found]:
    """The nodes below ``start`` (node id text; None: Objects), at most ``limit``."""
    root = client.get_node(start) if start else client.nodes.objects
    found: list[Found] = []
    await _walk(root, 0, depth, limit, found, path=())
    return found


async def _walk(
    node: Node,
    depth: int,
    max_depth: int,
    limit: int,
    found: list[Found],
    *,
    path: tuple[str, ...],
) -> None:
    if len(found) >= limit:
        return
    values = await node.read_attributes(_ATTRIBUTES)
    status = values[0].StatusCode
    if status is not None and not status.is_good():
        if not depth:  # the node asked for: say so (it was "None is not a valid NodeClass")
            raise LookupError(f"the server has no such node ({status.name})")
        return  # a child the server will not describe: left out
    node_class = ua.NodeClass(values[0].Value.Value).name if values[0].Value else "?"
    name = values[1].Value.Value.Name if values[1].Value and values[1].Value.Value else "?"
    here = (*path, name) if depth else ()
    if node_class == "Variable":
        type_id = values[2].Value.Value if values[2].Value else None
        type_name = await _type_name(node, type_id)
        status = values[3].StatusCode
        status_name = status.name if status is not None else ""
        value = values[3].Value.Value if values[3].Value is not None else None
        access = values[4].Value.Value if values[4].Value else 0
        writable = bool(access and access & ua.AccessLevel.CurrentWrite.mask)
        found.append(
            Found(
                node.nodeid.to_string(),
                name,
                node_class,
                depth,
                type_name,
                value,
                status_name,
                writable,
                here,
            )
        )
    else:
        found.append(Found(node.nodeid.to_string(), name, node_class, depth, path=here))
    if depth >= max_depth:
        return
    for child in await node.get_children():
        if len(found) >= limit:
            return
        await _walk(child, depth + 1, max_depth, limit, found, path=here)


async def _type_name(node: Node, type_id: object) -> str:
    """The built-in type name of a variable's DataType node id ("" when not built in)."""
    if (
        isinstance(type_id, ua.NodeId)
        and type_id.NamespaceIndex == 0
        and isinstance(type_id.Identifier, int)
    ):
        try:
            return ua.VariantType(type_id.Identifier).name
        except ValueError:
            pass
    try:
        return (await node.read_data_type_as_variant_type()).name
    except Exception:
        return ""


def tag_definitions(
    found: list[Found], device: str, prefix: str
) -> tuple[list[dict[str, object]], list[str]]:
    """``tags:`` entries for the variables of ``found`` on ``device``, named
    ``PREFIX/point`` (``prefix`` is ``area/device``); and the variables left out, why."""
    tags: list[dict[str, object]] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for item in found:
        if item.node_class != "Variable":
            continue
        data_type = _TYPES.get(item.data_type)
        if data_type is None or isinstance(item.value, list):
            kind = "an array" if isinstance(item.value, list) else item.data_type or "unknown"
            skipped.append(f"{item.node_id}: type {kind} is not a tag type")
            continue
        point = _POINT.sub("_", "_".join(item.path[1:] or item.path).lower()).strip("_")
        name = f"{prefix}/{point or 'value'}"
        base, count = name, 2
        while name in seen:
            name, count = f"{base}_{count}", count + 1
        if not TAG_NAME.match(name):
            skipped.append(f"{item.node_id}: {name!r} is not a tag name (area/device/point)")
            continue
        seen.add(name)
        tag: dict[str, object] = {
            "name": name,
            "device": device,
            "address": item.node_id,
            "type": data_type.value,
        }
        if item.writable:
            tag["description"] = f"{item.browse_name} (writable on the server)"
        tags.append(tag)
    return tags, skipped


def tags_yaml(tags: list[dict[str, object]], endpoint: str) -> str:
    """The definitions as YAML for a project's ``tags:`` list."""
    head = (
        f"# tag definitions from {endpoint} (hmi opcua browse); paste under tags: and add\n"
        "# write_roles to the points operators may write (none may, until you do)\n"
    )
    return head + yaml.safe_dump(tags, sort_keys=False, allow_unicode=True)


def tree(found: list[Found]) -> Iterator[str]:
    """The lines of the printed tree."""
    for item in found:
        yield item.describe()
