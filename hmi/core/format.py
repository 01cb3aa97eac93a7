"""Formatting values for display: the tag's format spec and unit, never binary noise.

One formatter for every place an operator reads a value (widgets, tooltips, a trend's
cursor and CSV export): a tag's ``format`` (``.2f``) wins; without one, a float shows
:data:`SIGNIFICANT` significant digits, so a float32 register never prints its binary
noise (``3.200000047683716`` is ``3.2``).
"""

from __future__ import annotations

import math

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
