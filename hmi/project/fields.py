"""Reading a YAML mapping field by field, each error with its file, line and field.

:class:`Fields` reads one mapping of composed nodes (:func:`hmi.project.yamlnode.compose`),
records a :class:`ConfigError` for each missing, mistyped or unknown field, and returns
``None`` for a field it could not read so the loader can go on and report everything.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hmi.project.errors import ConfigError
from hmi.project.yamlnode import (
    CONTROL,
    STR_TAG,
    control_problem,
    line_of,
    scalar_value,
    type_name,
)

_REQUIRED: Any = object()


@dataclass
class Context:
    """The file being read and the errors found so far."""

    file: str
    errors: list[ConfigError] = field(default_factory=list)

    def error(self, node: Node | None, field_name: str, message: str, line: int = 1) -> None:
        """Record one error at ``node`` (or at ``line`` when there is no node)."""
        self.errors.append(
            ConfigError(self.file, line_of(node) if node is not None else line, field_name, message)
        )


class Fields:
    """One YAML mapping, read field by field; :meth:`finish` reports the unknown ones."""

    def __init__(self, node: MappingNode, path: str, ctx: Context) -> None:
        self.node = node
        self.path = path
        self.ctx = ctx
        self.line = line_of(node)
        self._items: dict[str, tuple[ScalarNode, Node]] = {}
        self._read: set[str] = set()
        for pair in node.value:  # (key node, value node): kept as it is, not copied
            key_node = pair[0]
            if key_node.tag == STR_TAG and type(key_node) is ScalarNode:
                key = key_node.value  # text, as nearly every key is: read at once
            else:
                key = scalar_value(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                ctx.error(key_node, self._name("?"), "field names must be text")
                continue
            if key in self._items:
                ctx.error(key_node, self._name(key), "duplicate field")
                continue
            self._items[key] = pair

    @classmethod
    def of(cls, node: Node | None, path: str, ctx: Context, line: int = 1) -> Fields | None:
        """Wrap ``node`` if it is a mapping, else record an error and return None."""
        if isinstance(node, MappingNode):
            return cls(node, path, ctx)
        found = "nothing" if node is None else type_name(node)
        ctx.error(node, path or "(top level)", f"expected a mapping, found {found}", line)
        return None

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        """True when the mapping has ``key``."""
        return key in self._items

    def node_of(self, key: str) -> Node | None:
        """The raw node of ``key`` (marks it read)."""
        self._read.add(key)
        item = self._items.get(key)
        return item[1] if item else None

    def invalid(self, key: str, message: str) -> None:
        """Report ``key`` as ``file:line: path.key: message`` (the mapping's line when the
        key is absent): a field's value that its reader refuses."""
        self.ctx.error(self.node_of(key) or self.node, self._name(key), message)

    def line_of(self, key: str) -> int:
        """The line of ``key``, or of the mapping when it is absent."""
        item = self._items.get(key)
        return line_of(item[0]) if item else self.line

    def _scalar(self, key: str, default: Any) -> tuple[Any, Node | None]:
        # node_of() written out: this runs for every field of every tag
        self._read.add(key)
        item = self._items.get(key)
        if item is None:
            if default is _REQUIRED:
                self.ctx.error(self.node, self._name(key), "missing required field")
            return None if default is _REQUIRED else default, None
        node = item[1]
        if not isinstance(node, ScalarNode):
            return _Bad, node
        if node.tag == STR_TAG:  # text, the most common value: no constructor needed
            if CONTROL.search(node.value):
                self.ctx.error(node, self._name(key), control_problem(node.value))
                return None, None
            return node.value, node
        try:
            value = scalar_value(node)
        except ConstructorError as exc:  # compose() checked every scalar: defence only
            self.ctx.error(node, self._name(key), str(exc.problem))
            return None, None
        problem = control_problem(value)
        if problem:
            self.ctx.error(node, self._name(key), problem)
            return None, None
        return value, node

    def _expect(self, key: str, node: Node, what: str) -> None:
        self.ctx.error(node, self._name(key), f"expected {what}, found {type_name(node)}")

    def text(self, key: str, default: Any = _REQUIRED) -> Any:
        """A text field (numbers are not silently turned into text)."""
        value, node = self._scalar(key, default)
        if node is not None and (value is _Bad or not isinstance(value, str)):
            self._expect(key, node, "text")
            return None
        if node is not None and default is _REQUIRED and not value.strip():
            self.ctx.error(node, self._name(key), "must not be empty")
            return None
        return value

    def number(self, key: str, default: Any = _REQUIRED) -> Any:
        """A finite int or float field (not a bool), as a float."""
        value, node = self._scalar(key, default)
        if node is None:
            return value
        if value is _Bad or isinstance(value, bool) or not isinstance(value, int | float):
            self._expect(key, node, "a number")
            return None
        try:
            number = float(value)
        except OverflowError:  # an integer with hundreds of digits
            number = math.inf
        if not math.isfinite(number):
            # .inf, .nan or 1e999: no setting of ours means that, and NaN compares false
            # with every bound a later check would put on it
            self.ctx.error(node, self._name(key), f"expected a finite number, found {node.value}")
            return None
        return number

    def integer(
        self, key: str, default: Any = _REQUIRED, low: int | None = None, high: int | None = None
    ) -> Any:
        """An integer field within ``low..high`` (inclusive) when given."""
        value, node = self._scalar(key, default)
        if node is None:
            return value
        if value is _Bad or isinstance(value, bool) or not isinstance(value, int):
            self._expect(key, node, "an integer")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            self.ctx.error(
                node, self._name(key), f"expected an integer in {low}..{high}, found {value}"
            )
            return None
        return value

    def boolean(self, key: str, default: Any = _REQUIRED) -> Any:
        """A true/false field."""
        value, node = self._scalar(key, default)
        if node is not None and (value is _Bad or not isinstance(value, bool)):
            self._expect(key, node, "true or false")
            return None
        return value

    def scalar(self, key: str, default: Any = _REQUIRED) -> Any:
        """Any scalar (bool, number or text)."""
        value, node = self._scalar(key, default)
        if node is not None and (value is _Bad or value is None):
            self._expect(key, node, "a value")
            return None
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _REQUIRED) -> Any:
        """A text field that must be one of ``choices``."""
        value = self.text(key, default)
        if value is None or value in choices:
            return value
        self.ctx.error(
            self.node_of(key),
            self._name(key),
            f"expected one of {', '.join(choices)}, found {value!r}{_suggest(value, choices)}",
        )
        return None

    def text_list(self, key: str, default: Any = _REQUIRED) -> Any:
        """A list of text items (a single text is accepted as a list of one)."""
        node = self.node_of(key)
        if node is None:
            if default is _REQUIRED:
                self.ctx.error(self.node, self._name(key), "missing required field")
                return None
            return default
        if isinstance(node, ScalarNode) and isinstance(scalar_value(node), str):
            problem = control_problem(scalar_value(node))
            if problem:
                self.ctx.error(node, self._name(key), problem)
                return None
            return [scalar_value(node)]
        if not isinstance(node, SequenceNode):
            self._expect(key, node, "a list of text")
            return None
        items: list[str] = []
        for index, item in enumerate(node.value):
            value = scalar_value(item) if isinstance(item, ScalarNode) else None
            where = f"{self._name(key)}[{index}]"
            if not isinstance(value, str):
                self.ctx.error(item, where, f"expected text, found {type_name(item)}")
                continue
            problem = control_problem(value)
            if problem:
                self.ctx.error(item, where, problem)
                continue
            items.append(value)
        return items

    def mapping(self, key: str, required: bool = False) -> Fields | None:
        """A nested mapping (None when absent and not required)."""
        node = self.node_of(key)
        if node is None:
            if required:
                self.ctx.error(self.node, self._name(key), "missing required field")
            return None
        return Fields.of(node, self._name(key), self.ctx)

    def items(self, key: str) -> Iterator[tuple[str, Node]]:
        """The entries of a list field as ``(field path, node)``; absent yields nothing."""
        node = self.node_of(key)
        if node is None:
            return
        if not isinstance(node, SequenceNode):
            self._expect(key, node, "a list")
            return
        for index, item in enumerate(node.value):
            yield f"{self._name(key)}[{index}]", item

    def finish(self, extra_ok: tuple[str, ...] = ()) -> None:
        """Report every field that nothing read (misspelt or unsupported)."""
        known = self._read | set(extra_ok)
        for key, (key_node, _) in self._items.items():
            if key not in known:
                self.ctx.error(
                    key_node,
                    self._name(key),
                    f"unknown field{_suggest(key, tuple(known))}",
                )


class _BadType:
    """Marker for a non-scalar where a scalar was expected."""


_Bad: Any = _BadType()


def _suggest(word: str, options: tuple[str, ...]) -> str:
    import difflib  # only when a field is wrong: not on every start

    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
