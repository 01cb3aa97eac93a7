"""A loaded screen: its widget tree, bound only while shown (lazy binding)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from hmi.qt.context import HmiContext
from hmi.qt.link import SCREEN_PROPERTY, TagLink
from hmi.qt.loader import load_ui
from hmi.qt.stock import StockBinding, bind_stock_widget


def links_in(root: QWidget) -> list[TagLink]:
    """The tag links of every HMI widget under ``root`` (root included)."""
    links = []
    for widget in [root, *root.findChildren(QWidget)]:
        link = getattr(widget, "tag_link", None)
        if isinstance(link, TagLink):
            links.append(link)
    return links


class ScreenView(QWidget):
    """Holds one loaded ``.ui`` form; binds its widgets on show, unbinds on hide.

    A screen that is not shown costs nothing per frame: its widgets are not in the binder.
    """

    def __init__(
        self,
        form: QWidget,
        context: HmiContext,
        *,
        name: str = "",
        title: str = "",
        macros: Mapping[str, str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.form = form
        self.context = context
        self.name = name or form.objectName()
        self.title = title or form.windowTitle() or self.name
        self.macros = dict(macros or {})
        self.setObjectName(self.name)
        # What a command sent from this screen names as its screen (the audit's "screen"):
        # its title with its device ("LIC-101 controller"), not the window's class.
        self.setProperty(SCREEN_PROPERTY, self.title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if form.layout() is None:
            # Absolute positions (P&ID, faceplates): keep the size drawn in Designer and
            # scroll when the window is smaller, rather than squeezing the drawing.
            form.setMinimumSize(form.size())
            scroll = QScrollArea(self)
            scroll.setObjectName("ScreenScroll")
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidgetResizable(True)
            scroll.setWidget(form)
            layout.addWidget(scroll)
        else:
            layout.addWidget(form)
        self._links = links_in(form)
        self._stock_widgets = [
            w
            for w in form.findChildren(QWidget)
            if w.property("tag") and not hasattr(w, "tag_link")
        ]
        # Strong references: bindings of C++-created stock widgets must outlive their wrappers.
        self._stock: list[StockBinding] = []

    @classmethod
    def open(
        cls,
        path: str | Path,
        context: HmiContext,
        *,
        name: str = "",
        title: str = "",
        macros: Mapping[str, str] | None = None,
        parent: QWidget | None = None,
    ) -> ScreenView:
        """Load ``path`` with ``macros`` into a new screen."""
        form = load_ui(path, macros)
        return cls(
            form, context, name=name or Path(path).stem, title=title, macros=macros, parent=parent
        )

    @property
    def bound(self) -> bool:
        """True while the screen's widgets receive samples."""
        return any(link.attached for link in self._links) or any(
            b.link.attached for b in self._stock
        )

    def tag_names(self) -> set[str]:
        """Every tag this screen shows."""
        names = {name for link in self._links for name in link.names()}
        names.update(str(w.property("tag")) for w in self._stock_widgets)
        return names

    def bind(self) -> None:
        """Attach every widget to the context (done on show), top to bottom, left to right.

        The binder updates widgets in the order they were bound, and Qt repaints a frame's
        widgets cheapest when they asked in screen order (their regions then append; in a
        scattered order 500 labels cost 4 us more each, see hmi.qt.binding). A drawing's
        file lists widgets in the order they were drawn: sort them by where they are.
        """
        form, origin = self.form, QPoint(0, 0)

        def place(link: TagLink) -> tuple[int, int]:
            at = link.owner.mapTo(form, origin)
            return at.y(), at.x()

        # A laid-out form not yet shown has every widget at 0,0: the stable sort then
        # keeps the file's order, which a layout's grid follows anyway.
        for link in sorted(self._links, key=place):
            link.attach(self.context)
        if not self._stock and self._stock_widgets:
            self._stock = [
                b for w in self._stock_widgets if (b := bind_stock_widget(w, self.context))
            ]
        else:
            for binding in self._stock:
                binding.link.attach(self.context)

    def unbind(self) -> None:
        """Detach every widget (done on hide); the last values stay drawn."""
        for link in self._links:
            link.detach()
        for binding in self._stock:
            binding.link.detach()

    def showEvent(self, event: QShowEvent) -> None:
        """Bind when shown."""
        self.bind()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        """Unbind when hidden."""
        self.unbind()
        super().hideEvent(event)
