"""The common shape of a tag, read in one go: the fast path of the ``tags:`` section.

Nearly every tag of a large project is a Modbus point or a memory tag with a handful of
plain fields (name, type, device, address, poll group, unit, description, format, write
roles, limits, alarms). :class:`FastTags` builds such a tag straight from its YAML nodes,
with the checks of :class:`~hmi.project.tag_reader.TagReader` done in bulk: the keys as
one set, each value by its node's tag, numbers and addresses converted once per distinct
text, no line marks kept. Reading a tag field by field costs about 25 us (a quarter of a
second for 10,000 tags), most of it per-field overhead for errors that almost never come;
this reads one in about 8 us, half of which is building its dataclasses.

It never reports an error. On anything it does not expect, and on anything the slow path
would refuse or read differently, it answers None, and the loader reads that tag with
TagReader, which names the file, line and field of what is wrong. So the fast path only
has to be right about what it accepts: exactly the Tag the slow path builds
(tests/project/test_fast_tags.py compares both on the examples and on mutated files).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hmi.core.address import AddressError, ModbusAddress
from hmi.core.tag import AlarmLimits, BadQualityPolicy, DataType, Limits, Scaling, Source, Tag
from hmi.project.modbus_fields import beyond, fits
from hmi.project.tag_reader import settle_problem
from hmi.project.yamlnode import STR_TAG, control_problem, scalar_value

#: the fields a memory tag of the common shape may have (``expression``, ``settle``: the
#: slow path's); a device tag adds its source's
_MEMORY_KEYS = frozenset(
    (
        "name",
        "type",
        "write_roles",
        "poll_group",
        "deadband",
        "unit",
        "description",
        "format",
        "scaling",
        "limits",
        "alarms",
    )
)
_DEVICE_KEYS = _MEMORY_KEYS | {"device", "address", "byte_order", "word_order", "length", "settle"}
_SCALING_KEYS = frozenset(("raw_min", "raw_max", "eng_min", "eng_max"))
_LIMIT_KEYS = frozenset(("low", "high"))
#: ``suppress_when`` is not among them: its expression is checked by the slow path
_ALARM_KEYS = frozenset(
    (
        "lolo",
        "lo",
        "hi",
        "hihi",
        "state",
        "deadband",
        "priority",
        "on_delay",
        "off_delay",
        "message",
        "bad_quality",
    )
)
_TYPES = {data_type.value: data_type for data_type in DataType}
_POLICIES = {policy.value: policy for policy in BadQualityPolicy}
_ORDERS = frozenset(("big", "little"))
_NO_ROLES: frozenset[str] = frozenset()
#: what a tag without limits has (frozen: one serves them all)
_NO_LIMITS = Limits()


class _Slow(Exception):
    """Not the common shape, or not valid: the slow path reads the tag (and says why)."""


class FastTags:
    """Reads the tags of the common shape of one project file (see the module's doc).

    ``devices`` names the devices whose tags are read here (the Modbus ones: a plug-in's
    read their addresses themselves); ``roles`` and ``groups`` are the project's;
    ``controls`` says whether a text value may hold a control character at all
    (:func:`~hmi.project.yamlnode.may_hold_controls`), so each need not be searched.
    """

    def __init__(
        self,
        devices: Collection[str],
        roles: Collection[str],
        groups: Collection[str],
        *,
        controls: bool,
    ) -> None:
        self._devices = frozenset(devices)
        self._roles = frozenset(roles)
        self._groups = frozenset(groups)
        self._controls = controls
        # the same few texts recur thousands of times (0, 100, 0.5; ir:0 on every device):
        # each converted once, by the slow path's own functions. Keyed by the node's tag
        # too: ``010`` is 8 as an integer and 10.0 as a float.
        self._numbers: dict[tuple[str, str], float] = {}
        self._integers: dict[tuple[str, str], int] = {}
        self._scalars: dict[tuple[str, str], Any] = {}
        self._addresses: dict[tuple[str, DataType, int], ModbusAddress] = {}
        self._role_sets: dict[tuple[str, ...], frozenset[str]] = {}
        self._ranges: dict[tuple[tuple[str, str] | None, ...], Limits] = {}

    def tag(self, node: Node) -> Tag | None:
        """The tag of mapping ``node``, or None: then the slow path must read it."""
        try:
            return self._tag(node)
        except (_Slow, ValueError):  # ValueError: a dataclass refused its values
            return None

    def _tag(self, node: Node) -> Tag:
        fields = self._fields(node, _DEVICE_KEYS)
        get = fields.get
        name = self._text(get("name") or _missing())
        found = get("type")
        data_type = DataType.FLOAT64 if found is None else _TYPES.get(self._text(found))
        if data_type is None:
            raise _Slow
        found = get("write_roles")
        write_roles = _NO_ROLES if found is None else self._write_roles(found)
        found = get("poll_group")
        group = "normal" if found is None else self._text(found)
        deadband = self._number_or_zero(get("deadband"))
        if "device" in fields:
            source: Source | None = self._source(fields, data_type, group, deadband)
        elif not fields.keys() <= _MEMORY_KEYS:
            raise _Slow  # source fields without a device: the slow path says what is wrong
        else:
            source = None  # a memory tag: its poll group and deadband are read, not used
        found = get("scaling")
        scaling = None if found is None else self._scaling(found)
        found = get("limits")
        limits = _NO_LIMITS if found is None else self._limits(found)
        found = get("alarms")
        alarms = None if found is None else self._alarms(found)
        return Tag(
            name=name,  # its form is checked by Tag itself (ValueError: the slow path)
            data_type=data_type,
            unit=self._optional_text(get("unit")),
            description=self._optional_text(get("description")),
            scaling=scaling,
            limits=limits,
            alarms=alarms,
            write_roles=write_roles,
            source=source,
            format=self._optional_text(get("format")),
        )

    def _source(
        self, fields: Mapping[str, Node], data_type: DataType, group: str, deadband: float
    ) -> Source:
        """The Modbus source of a device tag (:func:`~hmi.project.modbus_fields.
        read_modbus_address` and TagReader._source, for a known Modbus device)."""
        get = fields.get
        device = self._text(fields["device"])
        if device not in self._devices or group not in self._groups or deadband < 0:
            raise _Slow
        found = get("byte_order")
        byte_order = "big" if found is None else self._text(found)
        found = get("word_order")
        word_order = "big" if found is None else self._text(found)
        if byte_order not in _ORDERS or word_order not in _ORDERS:
            raise _Slow
        found = get("length")
        length = 1 if found is None else self._integer(found)
        if not 1 <= length <= 123:
            raise _Slow
        address = self._address(self._text(get("address") or _missing()), data_type, length)
        found = get("settle")
        settle = None
        if found is not None:
            settle = self._number(found)
            if settle_problem(settle):
                raise _Slow
        return Source(device, address, group, byte_order, word_order, length, deadband, settle)

    def _scaling(self, node: Node) -> Scaling:
        fields = self._fields(node, _SCALING_KEYS)
        if len(fields) != len(_SCALING_KEYS):
            raise _Slow  # all four are required
        number = self._number
        values = [number(fields[key]) for key in ("raw_min", "raw_max", "eng_min", "eng_max")]
        if values[2] == values[3]:
            raise _Slow
        return Scaling(*values)

    def _limits(self, node: Node) -> Limits:
        fields = self._fields(node, _LIMIT_KEYS)
        low, high = fields.get("low"), fields.get("high")
        # most tags share a few ranges: one (frozen) Limits per distinct text of the bounds
        key = (_text_of(low), _text_of(high))
        limits = self._ranges.get(key)
        if limits is None:
            limits = Limits(self._optional_number(low), self._optional_number(high))
            self._ranges[key] = limits
        return limits

    def _alarms(self, node: Node) -> AlarmLimits:
        fields = self._fields(node, _ALARM_KEYS)
        get = fields.get
        limit, delay = self._optional_number, self._number_or_zero
        found = get("state")
        state = None if found is None else self._scalar(found)
        found = get("priority")
        priority = 3 if found is None else self._integer(found)
        if not 1 <= priority <= 4:
            raise _Slow
        found = get("bad_quality")
        policy = BadQualityPolicy.HOLD if found is None else _POLICIES.get(self._text(found))
        if policy is None:
            raise _Slow
        return AlarmLimits(
            lolo=limit(get("lolo")),
            lo=limit(get("lo")),
            hi=limit(get("hi")),
            hihi=limit(get("hihi")),
            state=state,
            deadband=delay(get("deadband")),
            priority=priority,
            on_delay=delay(get("on_delay")),
            off_delay=delay(get("off_delay")),
            message=self._optional_text(get("message")),
            bad_quality=policy,
        )

    # -- values ------------------------------------------------------------------------------
    @staticmethod
    def _fields(node: Node, allowed: frozenset[str]) -> dict[str, Node]:
        """The fields of mapping ``node`` by name: text keys, none twice, all ``allowed``."""
        if type(node) is not MappingNode:
            raise _Slow
        pairs = node.value
        fields: dict[str, Node] = {}
        for key, value in pairs:
            if type(key) is not ScalarNode or key.tag != STR_TAG:
                raise _Slow
            fields[key.value] = value
        if len(fields) != len(pairs) or not fields.keys() <= allowed:
            raise _Slow
        return fields

    def _text(self, node: Node) -> str:
        """Text (Fields.text): a text scalar without control characters."""
        if type(node) is not ScalarNode or node.tag != STR_TAG:
            raise _Slow
        value: str = node.value
        if self._controls and control_problem(value):
            raise _Slow
        return value

    def _optional_text(self, node: Node | None) -> str:
        return "" if node is None else self._text(node)

    def _number(self, node: Node) -> float:
        """A finite number, not a bool, as a float (Fields.number)."""
        if type(node) is not ScalarNode:
            raise _Slow
        key = (node.tag, node.value)
        number = self._numbers.get(key)
        if number is None:
            value = self._value(node)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _Slow
            try:
                number = float(value)
            except OverflowError:
                raise _Slow from None
            if not math.isfinite(number):
                raise _Slow
            self._numbers[key] = number
        return number

    def _optional_number(self, node: Node | None) -> float | None:
        return None if node is None else self._number(node)

    def _number_or_zero(self, node: Node | None) -> float:
        return 0.0 if node is None else self._number(node)

    def _integer(self, node: Node) -> int:
        """An integer, not a bool (Fields.integer; its bounds are the caller's)."""
        if type(node) is not ScalarNode:
            raise _Slow
        key = (node.tag, node.value)
        integer = self._integers.get(key)
        if integer is None:
            value = self._value(node)
            if isinstance(value, bool) or not isinstance(value, int):
                raise _Slow
            integer = self._integers[key] = value
        return integer

    def _scalar(self, node: Node) -> Any:
        """Any value but null: text, number or bool (Fields.scalar)."""
        if type(node) is not ScalarNode:
            raise _Slow
        if node.tag == STR_TAG:
            return self._text(node)
        key = (node.tag, node.value)
        if key not in self._scalars:
            value = self._value(node)
            if value is None or isinstance(value, str):
                raise _Slow  # a null, or text of an explicit tag: the slow path's
            self._scalars[key] = value
        return self._scalars[key]

    @staticmethod
    def _value(node: ScalarNode) -> Any:
        if node.tag == STR_TAG:
            raise _Slow  # text where a number was expected
        try:
            return scalar_value(node)
        except Exception:  # compose() checked every scalar: defence only
            raise _Slow from None

    def _address(self, text: str, data_type: DataType, length: int) -> ModbusAddress:
        """The address ``text`` for a value of ``data_type`` and ``length``, which must
        fit there (read_modbus_address)."""
        key = (text, data_type, length)
        address = self._addresses.get(key)
        if address is None:
            try:
                address = ModbusAddress.parse(text)
            except AddressError:
                raise _Slow from None
            if not fits(address, data_type) or beyond(address, data_type, length):
                raise _Slow
            self._addresses[key] = address
        return address

    def _write_roles(self, node: Node) -> frozenset[str]:
        """``write_roles``: one role or a list of them, each a project role
        (Fields.text_list and check_roles)."""
        if type(node) is SequenceNode:
            given = tuple(self._text(item) for item in node.value)
        else:
            given = (self._text(node),)
        roles = self._role_sets.get(given)
        if roles is None:
            if not self._roles.issuperset(given):
                raise _Slow
            roles = self._role_sets[given] = frozenset(given)
        return roles


def _text_of(node: Node | None) -> tuple[str, str] | None:
    """What a scalar's value depends on (its tag and text); None for a node not given."""
    if node is None:
        return None
    if type(node) is not ScalarNode:
        raise _Slow
    return node.tag, node.value


def _missing() -> Node:
    """A required field is absent: the slow path reports it."""
    raise _Slow
