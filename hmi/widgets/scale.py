"""Helpers shared by the analog widgets: the displayed range and the value's fraction of it."""

from __future__ import annotations

import math

from hmi.core.sample import Value
from hmi.core.tag import Tag


def display_range(tag: Tag | None, minimum: float, maximum: float) -> tuple[float, float]:
    """``(low, high)``: the widget's own range when set (low < high), else the tag's limits."""
    if minimum < maximum:
        return minimum, maximum
    limits = tag.limits if tag is not None else None
    low, high = (limits.low, limits.high) if limits is not None else (None, None)
    if low is not None and high is not None and low < high:
        return low, high
    return 0.0, 100.0


def fraction(value: Value, low: float, high: float) -> float | None:
    """Where ``value`` sits in ``[low, high]`` as 0..1 (clamped), None for no number."""
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    if math.isnan(number):
        return None
    return min(1.0, max(0.0, (number - low) / (high - low)))
