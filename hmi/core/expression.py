"""Calculated tags: a small, safe expression language over other tags. Never ``eval``.

Syntax: Python expression syntax restricted to arithmetic (``+ - * / // % **``),
comparison (``< <= == != >= >``, chained), boolean logic (``and or not``), conditionals
(``a if cond else b``), number and ``true``/``false`` literals, and the functions ``min``,
``max``, ``abs`` and ``round``. A tag is referenced by its name in braces, because tag names
contain ``/``::

    {area1/t101/level} * 3.14
    max({area1/t101/level}, {area1/t102/level}) > 4.2 and not {area1/p101/running}

(In YAML, quote such an expression: a leading ``{`` would start a mapping.)

The text is parsed once with :mod:`ast` and every node is checked against a whitelist,
then compiled into nested closures; evaluation walks those closures, never Python's
``eval``/``exec``. The quality of the result is the worst of its inputs' qualities.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hmi.core.quality import Quality, Reason, Severity
from hmi.core.sample import Sample, Value
from hmi.core.tag import TAG_NAME

_REFERENCE = re.compile(r"\{([^{}]*)\}")
_MAX_LENGTH = 2000
_MAX_NODES = 500
#: beyond this, ``x ** y`` could take unbounded time and memory on integers
_MAX_EXPONENT = 1000

Number = int | float | bool
_Env = Mapping[str, Value]
_Node = Callable[[_Env], Value]

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_FUNCTIONS: dict[str, tuple[int, int, Callable[..., Value]]] = {
    # name: (fewest arguments, most arguments, function)
    "min": (2, 64, min),
    "max": (2, 64, max),
    "abs": (1, 1, abs),
    "round": (1, 2, round),
}
_CONSTANTS: dict[str, Value] = {"true": True, "false": False, "True": True, "False": False}


class ExpressionError(ValueError):
    """A malformed expression (at parse time) or one that cannot be computed (at run time).

    ``column`` is 1-based within the expression text when known, else 0.
    """

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(f"{message} (at column {column})" if column else message)
        self.column = column


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed calculated-tag expression; build it with :meth:`parse`."""

    text: str
    #: the tag names referenced, in order of first use
    tags: tuple[str, ...]
    _root: _Node = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Expression:
        """Parse and check ``text``; raise :class:`ExpressionError` if not allowed."""
        if len(text) > _MAX_LENGTH:
            raise ExpressionError(f"expression longer than {_MAX_LENGTH} characters")
        names: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name = match[1].strip()
            if not TAG_NAME.match(name):
                raise ExpressionError(
                    f"{{{match[1]}}} is not a tag name (area/device/point)", match.start() + 1
                )
            if name not in names:
                names.append(name)
            # Same length as the braces, so column numbers in errors stay right.
            ident = f"_t{names.index(name)}"
            return ident.ljust(len(match[0]))

        python = _REFERENCE.sub(substitute, text)
        for char in "{}":
            if char in python:
                raise ExpressionError(f"unbalanced {char!r}", python.index(char) + 1)
        stripped = python.lstrip()
        indent = len(python) - len(stripped)
        try:
            tree = ast.parse(stripped, mode="eval")
        except SyntaxError as exc:
            column = indent + exc.offset if exc.offset else 0
            raise ExpressionError(f"syntax error: {exc.msg}", column) from None
        if sum(1 for _ in ast.walk(tree)) > _MAX_NODES:
            raise ExpressionError(f"expression has more than {_MAX_NODES} parts")
        return cls(text, tuple(names), _compile(tree.body, names, indent))

    def evaluate(self, values: Mapping[str, Value]) -> Value:
        """The value for the given input values (by tag name).

        Raises :class:`ExpressionError` for a missing input, a type mismatch or an
        arithmetic error such as division by zero.
        """
        env = {f"_t{i}": values[name] for i, name in enumerate(self.tags) if name in values}
        try:
            return self._root(env)
        except ExpressionError:
            raise
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise ExpressionError(f"cannot compute {self.text!r}: {exc}") from None

    def sample(self, samples: Mapping[str, Sample], now: float) -> Sample:
        """The calculated sample: value from the inputs, quality the worst of theirs.

        An input without a value (or an arithmetic error) gives a BAD sample with no
        value; a non-GOOD input gives its severity with reason ``input quality``.
        """
        worst_name, worst = "", Quality.good()
        values: dict[str, Value] = {}
        source_time = 0.0
        for name in self.tags:
            sample = samples.get(name)
            if sample is None or sample.value is None:
                detail = f"{name}: no value"
                return Sample(None, Quality.bad(Reason.INPUT_QUALITY, detail), now, now)
            values[name] = sample.value
            source_time = max(source_time, sample.source_time)
            if sample.quality.severity > worst.severity:
                worst_name, worst = name, sample.quality
        try:
            value = self.evaluate(values)
        except ExpressionError as exc:
            return Sample(None, Quality.bad(Reason.CONFIG_ERROR, str(exc)), now, now)
        if isinstance(value, float) and not math.isfinite(value):
            return Sample(value, Quality.bad(Reason.CONFIG_ERROR, "result is not finite"), now, now)
        quality = worst
        if worst.severity is not Severity.GOOD:
            detail = f"{worst_name}: {worst.describe()}"
            quality = Quality(worst.severity, Reason.INPUT_QUALITY, detail)
        return Sample(value, quality, source_time or now, now)


def _number(value: Value) -> Number:
    if isinstance(value, bool | int | float):
        return value
    raise ExpressionError(f"expected a number, got {value!r}")


def _power(base: Number, exponent: Number) -> Number:
    if abs(exponent) > _MAX_EXPONENT:
        raise ExpressionError(f"exponent {exponent} is too large")
    return float(base) ** exponent if isinstance(exponent, float) else base**exponent


def _compile(node: ast.expr, names: list[str], indent: int = 0) -> _Node:
    """Compile one whitelisted node into a closure; anything else is an error."""
    column = node.col_offset + 1 + indent
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool | int | float) and not isinstance(value, complex):
            return lambda env: value
        raise ExpressionError(f"literal {value!r} is not allowed (numbers only)", column)
    if isinstance(node, ast.Name):
        ident = node.id
        if ident in _CONSTANTS:
            constant = _CONSTANTS[ident]
            return lambda env: constant
        if re.fullmatch(r"_t\d+", ident) and int(ident[2:]) < len(names):

            def load(env: _Env) -> Value:
                if ident not in env:
                    raise ExpressionError(f"no value for {names[int(ident[2:])]}")
                return env[ident]

            return load
        raise ExpressionError(
            f"unknown name {ident!r}: reference tags in braces, e.g. {{area/device/point}}",
            column,
        )
    if isinstance(node, ast.BinOp):
        left, right = _compile(node.left, names, indent), _compile(node.right, names, indent)
        if isinstance(node.op, ast.Pow):
            return lambda env: _power(_number(left(env)), _number(right(env)))
        function = _BINARY.get(type(node.op))
        if function is None:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed", column)
        return lambda env: function(_number(left(env)), _number(right(env)))
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand, names, indent)
        if isinstance(node.op, ast.Not):
            return lambda env: not operand(env)
        if isinstance(node.op, ast.USub):
            return lambda env: -_number(operand(env))
        if isinstance(node.op, ast.UAdd):
            return lambda env: +_number(operand(env))
        raise ExpressionError("bitwise ~ is not allowed", column)
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, names, indent) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda env: all(bool(p(env)) for p in parts)
        return lambda env: any(bool(p(env)) for p in parts)
    if isinstance(node, ast.Compare):
        return _compile_compare(node, names, column, indent)
    if isinstance(node, ast.IfExp):
        parts3 = (node.test, node.body, node.orelse)
        test, body, orelse = (_compile(n, names, indent) for n in parts3)
        return lambda env: body(env) if test(env) else orelse(env)
    if isinstance(node, ast.Call):
        return _compile_call(node, names, column, indent)
    raise ExpressionError(f"{type(node).__name__} is not allowed in an expression", column)


def _compile_compare(node: ast.Compare, names: list[str], column: int, indent: int) -> _Node:
    functions = []
    for op in node.ops:
        function = _COMPARE.get(type(op))
        if function is None:
            raise ExpressionError(f"comparison {type(op).__name__} is not allowed", column)
        functions.append(function)
    operands = [_compile(n, names, indent) for n in (node.left, *node.comparators)]

    def compare(env: _Env) -> bool:
        left = operands[0](env)
        for function, right_node in zip(functions, operands[1:], strict=True):
            right = right_node(env)
            if not function(left, right):
                return False
            left = right
        return True

    return compare


def _compile_call(node: ast.Call, names: list[str], column: int, indent: int) -> _Node:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        allowed = ", ".join(_FUNCTIONS)
        raise ExpressionError(f"only the functions {allowed} may be called", column)
    low, high, function = _FUNCTIONS[node.func.id]
    if node.keywords or not low <= len(node.args) <= high:
        raise ExpressionError(f"{node.func.id}() takes {low}..{high} plain arguments", column)
    if any(isinstance(a, ast.Starred) for a in node.args):
        raise ExpressionError("*arguments are not allowed", column)
    args = [_compile(a, names, indent) for a in node.args]
    return lambda env: function(*(_number(a(env)) for a in args))
