"""YAML composed into nodes that keep their line numbers, for error messages.

The file is composed into PyYAML nodes (which carry their position), never constructed
with arbitrary tags: only the safe scalar types exist. :class:`hmi.project.fields.Fields`
reads one mapping of them field by field.

:func:`compose` reads hostile text without a traceback and without running away: control
characters, tags other than plain YAML's (``!!python/name:...``), nesting deeper than
:data:`MAX_DEPTH`, aliases that refer to themselves or expand to more than
:data:`MAX_NODES` values are each a ``file:line`` error (:class:`YamlSyntaxError`). Its
resolver reads numbers as YAML 1.2 does (``1e+06``, ``1E6``, ``1.5e-3`` are floats;
YAML 1.1, PyYAML's, reads the first two as text), and has no dates, merge keys (``<<``)
or value keys (``=``): in a project file those are text.
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver, Resolver

from hmi.project.errors import ConfigError

#: the deepest nesting of lists and mappings read (a project file needs about 6)
MAX_DEPTH = 64
#: the most values (nodes) a file may hold, aliases counted each time they are used
MAX_NODES = 1_000_000
#: the most errors of one kind (control characters, tags) listed for one file
_MOST_LISTED = 20

_TAG = "tag:yaml.org,2002:"
#: the node tags a project file may hold: plain YAML
_ALLOWED_TAGS = frozenset(
    f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
#: characters PyYAML's reader refuses (its NON_PRINTABLE): reported here, each with its line
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
#: the ASCII characters _NOT_PRINTABLE lets through (tab, line breaks, printable ones)
_PRINTABLE_ASCII = b"\t\n\r" + bytes(range(0x20, 0x7F))
#: control characters in a text value (from escapes such as "\0" in double quotes):
#: :func:`control_problem` says why they are refused
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: YAML 1.2's floats (an exponent without a dot: 1e+06, 1E6) and YAML 1.1's (1.5e+3,
#: sexagesimal 1:30.5, .inf, .nan)
_FLOAT = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)
    |[-+]?[0-9][0-9_]*\.[0-9_]*
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _Resolver(Resolver):
    """PyYAML's YAML 1.1 resolver with YAML 1.2 floats, and without dates, ``<<``, ``=``."""

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    #: the first characters some implicit resolver looks at (set by _build_resolvers);
    #: None: a resolver looks at every value
    resolved_first: frozenset[str] | None = None

    def __init__(self) -> None:
        super().__init__()
        #: the plain values resolved to a type they do not read as (``0x_``, an int)
        self._unreadable: list[str] = []
        # An attribute of the instance, not a method: libyaml's composer calls it for every
        # value (180,000 times for a 10,000-tag file), and a closure over its tables costs
        # half as much as a method looking them up on self.
        self.resolve = _plain_resolve(self._unreadable)  # type: ignore[method-assign]

    @property
    def unreadable(self) -> bool:
        """True when a plain value was resolved to a type it does not read as."""
        return bool(self._unreadable)


def _plain_resolve(unreadable: list[str]) -> Callable[[Any, Any, Any], Any]:
    """PyYAML's resolve (by :data:`_TABLE`), with plain text no resolver could claim
    (names, units, descriptions: most of a project file) answered at once, and every other
    plain value resolved once per file; the values whose type they do not read as are
    added to ``unreadable``. The closure holds no composer, so none is left in a cycle."""
    first = _Resolver.resolved_first
    text = _STR
    resolved: dict[str, str] = {}
    table: Callable[[Any, Any, Any], str] = _TABLE.resolve

    def resolve(kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0] and value:
            if first is not None and value[0] not in first:
                return text
            # the tag of a plain scalar depends on its text alone (no path resolvers)
            tag = resolved.get(value)
            if tag is None:
                tag = resolved[value] = table(kind, value, implicit)
                if tag != _STR and _unreadable(ScalarNode(tag, value)):
                    unreadable.append(value)
            return tag
        return table(kind, value, implicit)

    return resolve


def _build_resolvers() -> None:
    dropped = {f"{_TAG}{name}" for name in ("float", "timestamp", "merge", "value", "yaml")}
    table: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for first, resolvers in Resolver.yaml_implicit_resolvers.items():
        kept = [(tag, regexp) for tag, regexp in resolvers if tag not in dropped]
        if kept:
            table[first] = kept
    _Resolver.yaml_implicit_resolvers = table
    _Resolver.add_implicit_resolver(f"{_TAG}float", _FLOAT, list("-+0123456789."))
    table = _Resolver.yaml_implicit_resolvers
    _Resolver.resolved_first = None if None in table else frozenset(table)


_build_resolvers()
#: PyYAML's resolve with the table above (no path resolvers: it keeps no state)
_TABLE = _Resolver.__new__(_Resolver)
BaseResolver.__init__(_TABLE)


class _Composer(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Resolver
):
    """PyYAML's composer with a depth limit, an expansion budget and no alias loops.

    PyYAML composes recursively (a few frames per level: 300 levels of ``[`` raised
    RecursionError) and expands nothing itself, but every alias of a big node makes the
    loader read that node again (a "billion laughs" file of a few lines).
    """

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)
        self._depth = 0
        self._nodes = 0
        self._open: set[str] = set()
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            anchor = str(event.anchor)
            if anchor in self._open:
                raise _composer_error("an alias is inside its own anchor (a loop)", event)
            target = self.anchors.get(anchor)
            if target is not None:
                self._count(self._size(target), event)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _composer_error(f"nested deeper than {MAX_DEPTH} levels", event)
        self._count(1, event)
        anchor = event.anchor
        if anchor is not None:
            self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)

    def _count(self, nodes: int, event: Any) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise _composer_error(
                f"more than {MAX_NODES:,} values (aliases counted each time they are used)", event
            )

    def _size(self, node: Node) -> int:
        """Values in ``node``, aliases expanded (memoised: every alias target was complete,
        and so measured, before anything could refer to it)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._size(item) for item in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self._size(k) + self._size(v) for k, v in node.value)
        self._sizes[id(node)] = size
        return size


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _CComposerType(CParser, _Resolver):
        """libyaml's parser and composer (about 15x faster) with our resolver; the limits
        _Composer keeps while composing are checked on the finished tree (_check_shape).
        libyaml itself stops nesting at 1,000 levels, so it never overflows the C stack."""

        # libyaml's composer calls these two around every value it composes (360,000 Python
        # calls for a 10,000-tag file, 5% of composing it). They follow the path resolvers,
        # which this resolver never has (PyYAML's own return at once without them): so
        # builtins that take the same arguments and do nothing stand in for them.
        descend_resolver = staticmethod(slice)  # type: ignore[assignment]  # an unused slice
        ascend_resolver = staticmethod(tuple)  # type: ignore[assignment]  # ()

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _Resolver.__init__(self)
            assert not self.yaml_path_resolvers, "the resolver stand-ins would ignore them"

    _CComposer: type[Any] | None = _CComposerType
else:  # a PyYAML built without libyaml: the pure-Python composer
    _CComposer = None


def _check_shape(root: Node) -> None:
    """The limits of :class:`_Composer` on a tree libyaml composed: nesting deeper than
    :data:`MAX_DEPTH`, an alias inside its own anchor (a loop: libyaml makes the tree
    cyclic), more than :data:`MAX_NODES` values with aliases expanded. Raises
    ComposerError at the offending node."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    # iterative depth-first walk: (node, depth, children entered?)
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, entered = stack.pop()
        key = id(node)
        if entered:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[key] = size
            if size > MAX_NODES:
                raise _node_error(
                    f"more than {MAX_NODES:,} values (aliases counted each time they are used)",
                    node,
                )
            continue
        if key in sizes:
            continue  # an alias of a node already measured
        if key in on_path:
            raise _node_error("an alias is inside its own anchor (a loop)", node)
        if depth > MAX_DEPTH:
            raise _node_error(f"nested deeper than {MAX_DEPTH} levels", node)
        on_path.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) in on_path:
                raise _node_error("an alias is inside its own anchor (a loop)", child)
            stack.append((child, depth + 1, False))


def _plain_tree(root: Node) -> bool:
    """True when ``root`` is within every limit :func:`_check_shape` checks: at most
    :data:`MAX_DEPTH` levels and :data:`MAX_NODES` values, aliases counted each time they
    are used. A quick walk, level by level, that gives up at the first limit passed (a
    loop passes the depth): :func:`_check_shape` then finds the node to blame."""
    level = [root]
    depth = count = 0
    while level:
        depth += 1
        count += len(level)
        if depth > MAX_DEPTH or count > MAX_NODES:
            return False
        below: list[Node] = []
        for node in level:
            kind = type(node)  # the composers make these three classes and no other
            if kind is ScalarNode:
                continue
            if kind is MappingNode:
                for pair in node.value:
                    below += pair
            elif kind is SequenceNode:
                below += node.value
            else:
                return False  # unknown: let _check_shape look
        level = below
    return True


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def _node_error(problem: str, node: Node) -> ComposerError:
    return ComposerError(None, None, problem, node.start_mark)


def _composer_error(problem: str, event: Any) -> ComposerError:
    """A composer error at ``event``'s position (reported with its line)."""
    return ComposerError(None, None, problem, event.start_mark)


def compose(text: str, file: str) -> Node | None:
    """Parse YAML text into a node tree (None for an empty document).

    Raises :class:`YamlSyntaxError` listing every problem that stops the file from
    being read at all: control characters, a syntax error, nesting or aliases beyond
    the limits, tags other than plain YAML's, a scalar its tag cannot read.
    """
    errors = _unprintable(text, file)
    if errors:
        raise YamlSyntaxError(errors[0], errors)
    composer: Any = _CComposer(text) if _CComposer is not None else _Composer(text)
    # Composing makes a node per value and nothing cyclic (a loop is refused below): the
    # cycle collector would only walk the growing tree again and again (4x the time on a
    # 10,000-tag project).
    collecting = gc.isenabled()
    gc.disable()
    try:
        root: Node | None = composer.get_single_node()
        if _CComposer is not None and root is not None and not _plain_tree(root):
            _check_shape(root)  # what _Composer checks as it goes
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = str(exc.problem)
        if "nesting depth" in problem:  # libyaml's own limit, in our words
            problem = f"nested deeper than {MAX_DEPTH} levels"
        raise YamlSyntaxError(ConfigError(file, line, "(syntax)", problem)) from None
    except yaml.YAMLError as exc:  # a reader or emitter error without a mark
        raise YamlSyntaxError(ConfigError(file, 1, "(syntax)", str(exc))) from None
    finally:
        if collecting:
            gc.enable()
        composer.dispose()
    # Without a "!" no value has a tag of its own (every tag is the resolver's, and plain
    # YAML's), and the resolver tried each plain value it typed: nothing to look for.
    errors = _check_nodes(root, file) if "!" in text or composer.unreadable else []
    if errors:
        raise YamlSyntaxError(errors[0], errors)
    return root


class YamlSyntaxError(Exception):
    """The file cannot be read as YAML; carries the first error there is and all of them."""

    def __init__(self, error: ConfigError, errors: list[ConfigError] | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.errors = errors or [error]


def _unprintable(text: str, file: str) -> list[ConfigError]:
    """An error for each character PyYAML refuses (NUL, other control characters)."""
    errors: list[ConfigError] = []
    if text.isascii() and not text.encode("ascii").translate(None, _PRINTABLE_ASCII):
        return errors  # the usual file: the same answer as the search below, 5x sooner
    for match in _NOT_PRINTABLE.finditer(text):
        start = match.start()
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        errors.append(
            ConfigError(
                file,
                line,
                "(text)",
                f"{_describe(match.group())} at column {column} is not allowed",
            )
        )
        if len(errors) >= _MOST_LISTED:
            break
    return errors


def _describe(char: str) -> str:
    """``control character U+0000 (NUL)``, ``character U+FFFE``: how errors name one."""
    code = ord(char)
    if unicodedata.category(char) == "Cc":
        short = _CONTROL_NAMES.get(code)
        return f"control character U+{code:04X}" + (f" ({short})" if short else "")
    return f"character U+{code:04X}"


_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "BS", 0x0B: "VT", 0x0C: "FF", 0x1B: "ESC", 0x7F: "DEL"}


def _check_nodes(root: Node | None, file: str) -> list[ConfigError]:
    """Every node's tag is plain YAML's, and every scalar reads as its tag says."""
    errors: list[ConfigError] = []
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack and len(errors) < _MOST_LISTED:
        node = stack.pop()
        if node.tag == _STR and type(node) is ScalarNode:
            continue  # text: nothing to check (and most values are), alias or not
        if id(node) in seen:
            continue  # an alias: checked where its anchor is
        seen.add(id(node))
        if node.tag not in _ALLOWED_TAGS:
            errors.append(
                ConfigError(
                    file,
                    line_of(node),
                    "(syntax)",
                    f"tag {_short_tag(node.tag)} is not allowed: only plain YAML is read "
                    "(text, numbers, true/false, null, lists and mappings)",
                )
            )
            continue
        if isinstance(node, ScalarNode):
            if node.tag != _STR:
                problem = _unreadable(node)
                if problem:
                    errors.append(ConfigError(file, line_of(node), "(syntax)", problem))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                # text needs no look (the first test of the loop), and most keys are text
                if key.tag != _STR or type(key) is not ScalarNode:
                    stack.append(key)
                stack.append(value)
    return errors


def _unreadable(node: ScalarNode) -> str:
    """Why a scalar does not read as its tag says (``!!int abc``), or ``""``."""
    try:
        scalar_value(node)
    except Exception:  # ValueError, KeyError (!!bool maybe), ConstructorError ...
        what = _KINDS.get(node.tag, _short_tag(node.tag))
        return f"{node.value!r} is not {what} (tagged {_short_tag(node.tag)})"
    return ""


_KINDS = {
    f"{_TAG}int": "an integer",
    f"{_TAG}float": "a number",
    f"{_TAG}bool": "true or false",
    f"{_TAG}null": "null",
}


def _short_tag(tag: str) -> str:
    return f"!!{tag[len(_TAG) :]}" if tag.startswith(_TAG) else tag


def control_problem(value: Any) -> str:
    """Why text ``value`` is refused (a control character from an escape such as "\\0"
    in double quotes: a NUL in a file name raised ValueError deep in pathlib), or ``""``.
    Tabs and line breaks are text."""
    if isinstance(value, str):
        found = CONTROL.search(value)
        if found:
            return f"{_describe(found.group())} in text is not allowed"
    return ""


def may_hold_controls(text: str) -> bool:
    """False when no value composed from ``text`` can hold a character that
    :func:`control_problem` refuses, so a reader may skip looking at each value.

    :func:`compose` refused every raw control character (:data:`_NOT_PRINTABLE`) but NEL
    (U+0085, a YAML line break); any other comes from an escape of a double-quoted value,
    which needs a backslash (tests/project/test_fast_tags.py checks the two tables agree).
    """
    return "\\" in text or "\x85" in text


def line_of(node: Node) -> int:
    """1-based line of a node."""
    return int(node.start_mark.line) + 1


def scalar_value(node: ScalarNode) -> Any:
    """The Python value of a scalar with YAML 1.1 safe typing (int, float, bool, null, str)."""
    tag = node.tag
    if tag == _STR:
        return node.value  # what SafeConstructor gives for text, without building one
    build = _SCALAR_BUILDERS.get(tag)
    if build is None:  # not plain YAML (compose() refuses those): PyYAML's own answer
        return SafeConstructor().construct_object(node)
    return build(_CONSTRUCTOR, node)


_STR = f"{_TAG}str"
#: the tag of text (a ScalarNode's ``tag``), for readers that look at nodes themselves
#: (hmi.project.fast_tags)
STR_TAG = _STR
#: SafeConstructor's scalar methods keep no state; one shared instance serves them all
#: (construct_object would remember every node it saw, and building one per call cost a
#: third of the load of a 10,000-tag project)
_CONSTRUCTOR = SafeConstructor()
_SCALAR_BUILDERS = {
    f"{_TAG}{name}": SafeConstructor.yaml_constructors[f"{_TAG}{name}"]
    for name in ("int", "float", "bool", "null")
}


def type_name(node: Node) -> str:
    """How an error message names the kind of value found."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"
