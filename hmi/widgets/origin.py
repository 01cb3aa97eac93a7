"""Which widget asked for a navigation: the faceplate opens beside it.

The session's ``navigate`` signal carries the screen and its macros, not the widget
(hmi.qt knows nothing of screens). A widget that navigates does it through
:func:`navigate_from`, and the navigator, called synchronously by that signal, asks
:func:`navigation_origin` where to put the popup.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import QWidget

from hmi.qt.context import HmiContext

_ORIGINS: list[QWidget] = []


def navigate_from(
    widget: QWidget,
    context: HmiContext,
    screen: str,
    macros: Mapping[str, str] | None = None,
    popup: bool = False,
) -> None:
    """Ask ``context`` to show ``screen``, with ``widget`` as the place it was asked from."""
    _ORIGINS.append(widget)
    try:
        context.navigate(screen, dict(macros or {}), popup)
    finally:
        _ORIGINS.pop()


def navigation_origin() -> QWidget | None:
    """The widget whose navigation is being handled now (None: a menu, a test, a script)."""
    return _ORIGINS[-1] if _ORIGINS else None
