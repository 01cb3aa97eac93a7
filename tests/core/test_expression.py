"""The calculated-tag expression language: what it computes, what it refuses."""

from __future__ import annotations

import pytest

from hmi.core.expression import Expression, ExpressionError
from hmi.core.quality import Quality, Reason, Severity
from hmi.core.sample import Sample

LEVEL = "area1/t101/level"


def calc(text: str, **values: object) -> object:
    expr = Expression.parse(text)
    return expr.evaluate({k.replace("__", "/"): v for k, v in values.items()})  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{a/b} * 3.14", 6.28),
        ("({a/b} + 1) ** 2 - 10 // 3 % 2", 8),
        ("-{a/b} + +1", -1),
        ("max({a/b}, 7, -1) + min(1, {a/b}) + abs(-2.5) + round(2.46, 1)", 13.0),
        ("{a/b} > 1 and not {a/c}", True),
        ("0 < {a/b} <= 2 < 3", True),
        ("{a/b} == 2 or {a/c}", True),
        ("1 if {a/c} else 0", 0),
        ("true and {a/b} != 3", True),
    ],
)
def test_computes(text: str, expected: object) -> None:
    assert calc(text, a__b=2, a__c=False) == pytest.approx(expected)


def test_references_are_listed_once_in_order() -> None:
    expr = Expression.parse(f"{{{LEVEL}}} * 2 + {{area1/t102/level}} - {{ {LEVEL} }}")
    assert expr.tags == (LEVEL, "area1/t102/level")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "only the functions"),
        ("{a/b}.__class__", "Attribute is not allowed"),
        ("open", "unknown name 'open'"),
        ("a/b * 2", "unknown name 'a'"),
        ("'text'", "numbers only"),
        ("[1, 2]", "List is not allowed"),
        ("(lambda: 1)()", "only the functions"),
        ("{a/b} +", "syntax error"),
        ("{not a tag} + 1", "not a tag name"),
        ("{a/b", "unbalanced"),
        ("max(*{a/b}, 1)", "arguments are not allowed"),
        ("abs(x=1)", "plain arguments"),
        ("~{a/b}", "bitwise"),
        ("{a/b} << 2", "LShift is not allowed"),
        ("{a/b} is None", "comparison Is"),
        ("{a/b} if", "syntax error"),
    ],
)
def test_refuses(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        Expression.parse(text)


def test_error_column_points_at_the_culprit() -> None:
    with pytest.raises(ExpressionError) as info:
        Expression.parse("  {a/b} + open")
    assert info.value.column == 11


def test_runtime_errors_are_expression_errors() -> None:
    with pytest.raises(ExpressionError, match="division by zero"):
        calc("1 / {a/b}", a__b=0)
    with pytest.raises(ExpressionError, match="too large"):
        calc("2 ** {a/b}", a__b=10**6)
    with pytest.raises(ExpressionError, match="expected a number"):
        calc("{a/b} + 1", a__b="x")
    with pytest.raises(ExpressionError, match="no value"):
        Expression.parse("{a/b} + 1").evaluate({})


def test_quality_is_the_worst_input() -> None:
    expr = Expression.parse("{a/x} + {a/y}")
    lost = Quality.uncertain(Reason.LAST_KNOWN_VALUE)
    good = Sample(1.0, Quality.good(), 10.0, 10.0)
    stale = Sample(2.0, lost, 7.0, 11.0)
    out = expr.sample({"a/x": good, "a/y": stale}, now=12.0)
    assert out.value == 3.0
    assert out.quality.severity is Severity.UNCERTAIN
    assert out.quality.reason is Reason.INPUT_QUALITY
    assert "a/y" in out.quality.detail
    assert out.source_time == 10.0  # the newest input's
    assert expr.sample({"a/x": good, "a/y": good}, now=12.0).quality.is_good


def test_missing_input_or_arithmetic_error_is_bad_without_value() -> None:
    expr = Expression.parse("{a/x} / {a/y}")
    good = Sample(1.0, Quality.good(), 1.0, 1.0)
    out = expr.sample({"a/x": good}, now=2.0)
    assert (out.value, out.quality.severity) == (None, Severity.BAD)
    zero = Sample(0, Quality.good(), 1.0, 1.0)
    out = expr.sample({"a/x": good, "a/y": zero}, now=2.0)
    assert out.quality.severity is Severity.BAD
    assert "division by zero" in out.quality.detail
