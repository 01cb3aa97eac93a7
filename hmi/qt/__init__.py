"""Qt glue: binding tags to widgets, the repaint timer, screen loading, Designer, theme.

The GUI's whole view of the plant is an :class:`HmiContext`: a tag store to read, a command
sink to write, and results coming back. The composition root (hmi.app) wires those to the
bus; tests use the in-process defaults.
"""

from hmi.qt.binding import Binder
from hmi.qt.context import HmiContext, RecordingSink, loopback_sink
from hmi.qt.link import TagLink
from hmi.qt.loader import ScreenError, load_ui, load_ui_text, substitute_macros
from hmi.qt.registry import register_widget, registered_widgets
from hmi.qt.screen import ScreenView
from hmi.qt.theme import apply_theme

__all__ = [
    "Binder",
    "HmiContext",
    "RecordingSink",
    "ScreenError",
    "ScreenView",
    "TagLink",
    "apply_theme",
    "load_ui",
    "load_ui_text",
    "loopback_sink",
    "register_widget",
    "registered_widgets",
    "substitute_macros",
]
