"""The Designer registration of every HMI widget (run inside Qt Designer by its plugin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hmi.widgets  # noqa: F401  (imports every widget module, filling the registry)
from hmi.qt.designer import register_with_designer


def register(recorder: Callable[..., Any] | None = None) -> list[str]:
    """Register all widgets in Designer's "HMI" group; returns their class names."""
    return register_with_designer(add=recorder)
