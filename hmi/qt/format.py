"""The display formatter, for the Qt side: :mod:`hmi.core.format` (one formatter everywhere).

It lives in ``hmi.core`` because the drivers word their results with it too ("overridden
by device: reads 0.0 %"), and they may not import Qt glue.
"""

from __future__ import annotations

from hmi.core.format import NO_VALUE, SIGNIFICANT, Formatter, format_value, formatter

__all__ = ["NO_VALUE", "SIGNIFICANT", "Formatter", "format_value", "formatter"]
