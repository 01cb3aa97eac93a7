"""Formatting values for display: the tag's format spec and unit, never a jumping width."""

from __future__ import annotations

from hmi.core.sample import Value
from hmi.core.tag import Tag

#: shown before the first value arrives (the quality mark says why)
NO_VALUE = "----"


def format_value(value: Value, tag: Tag | None, fmt: str = "", with_unit: bool = False) -> str:
    """``value`` with ``fmt`` (or the tag's format), e.g. ``2.41`` or ``2.41 m`` with the unit."""
    if value is None:
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


def _default(value: Value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
