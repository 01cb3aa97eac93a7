"""Formatting values for display: the tag's format spec and unit, never binary noise.

One formatter for every place an operator reads a value (widgets, tooltips, a trend's
cursor and CSV export): a tag's ``format`` (``.2f``) wins; without one, a float shows
:data:`SIGNIFICANT` significant digits, so a float32 register never prints its binary
noise (``3.200000047683716`` is ``3.2``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from hmi.core.sample import Value
from hmi.core.tag import DataType, Tag

#: shown before the first value arrives, and where there is no value (a gap)
NO_VALUE = "----"
#: significant digits of a float without a format. A float32 holds 7.2 decimal digits,
#: so 6 never shows its noise; a float64 without a format is a measurement too.
SIGNIFICANT = 6
#: the integer types: a float holding an integral value of such a tag (a trend's point,
#: a history average) is shown as an integer
_INTEGERS = frozenset(
    {
        DataType.INT16,
        DataType.UINT16,
        DataType.INT32,
        DataType.UINT32,
        DataType.INT64,
        DataType.UINT64,
    }
)


def format_value(value: Value, tag: Tag | None, fmt: str = "", with_unit: bool = False) -> str:
    """``value`` with ``fmt`` (or the tag's format), e.g. ``2.41`` or ``2.41 m`` with the unit.

    None and NaN read :data:`NO_VALUE`; bools ``ON``/``OFF``. Plotted values are floats:
    one holding 0 or 1 of a bool tag reads ``ON``/``OFF`` too, an integral one of an
    integer tag reads as an integer.
    """
    value = _typed(value, tag)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        text = NO_VALUE
    elif isinstance(value, bool):
        text = "ON" if value else "OFF"
    else:
        spec = fmt or (tag.format if tag is not None else "")
        try:
            text = format(value, spec) if spec else _default(value)
        except (ValueError, TypeError):
            text = str(value)
    if with_unit and tag is not None and tag.unit:
        return f"{text} {tag.unit}"
    return text


#: turns one value into its display text (see :func:`formatter`)
Formatter = Callable[[Value], str]
#: the types whose values a float tag's formatter may format at once: a float stays a
#: float for these (only bool and integer tags turn an integral float into another type)
_FLOAT_KINDS = frozenset({DataType.FLOAT32, DataType.FLOAT64, DataType.STRING})


def formatter(tag: Tag | None, fmt: str = "", with_unit: bool = False) -> Formatter:
    """:func:`format_value` with the tag, format and unit decided once: ``f(value) -> text``.

    A label shows the same tag with the same format many times a second: the spec, the
    unit's suffix and what the tag's type does to a float are looked up here once, so the
    common value (a float, or an int, with a spec that formats it) costs one ``format``
    call. Every other value (None, NaN, a bool, text, a spec that does not fit) goes
    through :func:`format_value`: the text is always the one it gives.
    """
    spec = fmt or (tag.format if tag is not None else "")
    suffix = f" {tag.unit}" if with_unit and tag is not None and tag.unit else ""

    def general(value: Value) -> str:
        return format_value(value, tag, fmt, with_unit)

    if not spec:
        return general
    # A float of a bool or integer tag may stand for another type (``_typed``): only the
    # float kinds (and no tag) keep a float a float.
    floats = tag is None or tag.data_type in _FLOAT_KINDS

    def fast(value: Value) -> str:
        kind = value.__class__  # exact classes: a bool is an int, and is shown ON/OFF
        # ``value == value`` is False only for NaN, which reads NO_VALUE (cheaper than
        # math.isnan, and this runs for every label of every frame).
        if (kind is float and floats and value == value) or kind is int:  # noqa: PLR0124
            try:
                return format(value, spec) + suffix
            except (ValueError, TypeError, OverflowError):
                pass  # the spec does not fit this value (``d`` and a float): say it as always
        return general(value)

    return fast


def _typed(value: Value, tag: Tag | None) -> Value:
    """A float that stands for a bool or an integer tag's value, as that type."""
    if tag is None or not isinstance(value, float) or not value.is_integer():
        return value
    if tag.data_type is DataType.BOOL and value in (0.0, 1.0):
        return value == 1.0
    if tag.data_type in _INTEGERS:
        return int(value)
    return value


def _default(value: Value) -> str:
    if isinstance(value, float):
        if value == 0.0:
            return "0"  # not "-0"
        return format(value, f".{SIGNIFICANT}g")
    return str(value)
