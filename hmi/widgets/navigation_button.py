"""NavigationButton: go to a screen, or open a faceplate popup with macros."""

from __future__ import annotations

from PySide6.QtCore import Property
from PySide6.QtWidgets import QPushButton, QWidget

from hmi.qt.link import TagLink
from hmi.qt.registry import register_widget
from hmi.widgets.equipment import parse_macros
from hmi.widgets.origin import navigate_from


@register_widget("Go to a screen, or open a faceplate popup with macros", width=120, height=32)
class NavigationButton(QPushButton):
    """Clicking asks the session to show ``target`` (a popup when ``popup``), with
    ``macros`` such as ``DEV=area1/p101, NAME=P-101``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._screen = ""
        self._macros = ""
        self._popup = False
        # No tags: the link only carries the session, through which navigation goes.
        self.tag_link = TagLink(self, list, lambda name, sample: None)
        self.clicked.connect(self.go)
        self.setText("Screen")

    def _get_screen(self) -> str:
        return self._screen

    def _set_screen(self, name: str) -> None:
        self._screen = name.strip()

    def _get_macros(self) -> str:
        return self._macros

    def _set_macros(self, text: str) -> None:
        self._macros = text

    def _get_popup(self) -> bool:
        return self._popup

    def _set_popup(self, popup: bool) -> None:
        self._popup = popup

    target = Property(str, _get_screen, _set_screen, doc="the screen to show")
    macros = Property(str, _get_macros, _set_macros, doc="macros K=V, K=V for the screen")
    popup = Property(bool, _get_popup, _set_popup, doc="open as a faceplate popup")

    def go(self) -> bool:
        """Request the navigation; False when not on a shown screen or no target."""
        context = self.tag_link.context
        if context is None or not self._screen:
            return False
        navigate_from(self, context, self._screen, parse_macros(self._macros), self._popup)
        return True
