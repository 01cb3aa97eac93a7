"""The navigation stack (home, back, forward) and faceplate popups."""

from __future__ import annotations

import logging
from collections import OrderedDict

import shiboken6
from PySide6.QtCore import QObject, QPoint, QRect, QSize, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QStackedWidget, QWidget

import hmi.widgets  # noqa: F401  (registers every widget class with the screen loader)
from hmi.qt.context import HmiContext
from hmi.qt.loader import ScreenError, substitute_macros
from hmi.qt.screen import ScreenView
from hmi.screens.catalog import ScreenCatalog
from hmi.screens.faceplate import Faceplate
from hmi.screens.fit import DrawingFit
from hmi.screens.placement import place_beside
from hmi.widgets.base import TagWidget
from hmi.widgets.origin import navigation_origin
from hmi.widgets.value_label import ValueLabel

log = logging.getLogger(__name__)

#: a screen with its macros: what the history holds
Place = tuple[str, tuple[tuple[str, str], ...]]
#: room for a window manager's title bar above a faceplate (not known before it is shown)
_TITLE_BAR = 32
#: faceplates follow the zoom of the drawing they open from, up to this: larger, they
#: would hide most of the drawing they belong to
FACEPLATE_MOST = 1.25


def _global_rect(widget: QWidget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


class Navigator(QObject):
    """Shows screens in ``stack`` and keeps the history; opens faceplates as popups.

    Loaded screens are cached (a few, least recently used dropped): going back is instant,
    and a hidden screen is unbound, so the cache costs no repaint work.
    """

    changed = Signal(str)
    #: an error an operator should see (unknown screen, broken file)
    failed = Signal(str)

    def __init__(
        self,
        catalog: ScreenCatalog,
        context: HmiContext,
        stack: QStackedWidget,
        *,
        cache_size: int = 8,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.context = context
        self.stack = stack
        self.cache_size = cache_size
        self._views: OrderedDict[Place, ScreenView] = OrderedDict()
        self._back: list[Place] = []
        self._forward: list[Place] = []
        self.current: Place | None = None
        self.popups: dict[Place, Faceplate] = {}
        #: the scaling of each drawing shown in the main area (by place)
        self.fits: dict[Place, DrawingFit] = {}
        context.navigation_requested.connect(self._on_request)

    # -- history -------------------------------------------------------------------------
    def go(self, name: str, macros: dict[str, str] | None = None) -> bool:
        """Show ``name``; the current screen goes on the back stack."""
        place = self._place(name, macros)
        if place is None or place == self.current:
            return place is not None
        if not self._show(place):
            return False
        if self._previous is not None:
            self._back.append(self._previous)
        self._forward.clear()
        self._announce()
        return True

    def back(self) -> bool:
        """Return to the previous screen."""
        if not self._back:
            return False
        place = self._back.pop()
        current = self.current
        if self._show(place) and current is not None:
            self._forward.append(current)
        self._announce()
        return True

    def forward(self) -> bool:
        """Undo a back."""
        if not self._forward:
            return False
        place = self._forward.pop()
        current = self.current
        if self._show(place) and current is not None:
            self._back.append(current)
        self._announce()
        return True

    def home(self) -> bool:
        """Show the home screen."""
        return self.go(self.catalog.home)

    @property
    def can_back(self) -> bool:
        """True when there is a screen to go back to."""
        return bool(self._back)

    @property
    def can_forward(self) -> bool:
        """True after a back."""
        return bool(self._forward)

    @property
    def current_view(self) -> ScreenView | None:
        """The screen shown."""
        return self._views.get(self.current) if self.current is not None else None

    # -- popups --------------------------------------------------------------------------
    def open_popup(
        self,
        name: str,
        macros: dict[str, str] | None = None,
        origin: QWidget | None = None,
    ) -> Faceplate | None:
        """Open ``name`` as a faceplate (or raise the one already open for these macros),
        beside ``origin`` (the equipment clicked) so it never hides it."""
        place = self._place(name, macros)
        if place is None:
            return None
        existing = self.popups.get(place)
        if existing is not None and not shiboken6.isValid(existing):
            del self.popups[place]  # deleted without being closed
            existing = None
        if existing is not None:
            existing.raise_()
            existing.activateWindow()
            return existing
        view = self._load(place)
        if view is None:
            return None
        drawing = self.fits.get(self.current) if self.current is not None else None
        if drawing is not None and drawing.zoom != 1.0 and view.form.layout() is None:
            # As large as the drawing it was opened from: one text size on the screen.
            self.fits[place] = DrawingFit(view.form)
            self.fits[place].scale(min(drawing.zoom, FACEPLATE_MOST))
        popup = Faceplate(view, self.stack.window())
        self.popups[place] = popup
        # On `finished` (the operator closed it), not `destroyed`: a slot of ours run while
        # Qt tears down the window and this navigator with it touches a half-destroyed
        # object (a segfault, depending on the garbage collector's timing).
        popup.finished.connect(lambda *_: self._closed(place))
        if origin is not None:
            popup.move(self._beside(origin, popup))
        popup.show()
        return popup

    def _beside(self, origin: QWidget, popup: Faceplate) -> QPoint:
        """Where ``popup`` goes: beside ``origin``, on the screen showing it, hiding as
        little as it can of the other equipment of the drawing."""
        anchor = _global_rect(origin)
        screen = QGuiApplication.screenAt(anchor.center()) or self.stack.screen()
        area = screen.availableGeometry()
        drawing = origin.parentWidget()
        # What the operator reads on the drawing: symbols, values, states.
        shown = (
            [*drawing.findChildren(TagWidget), *drawing.findChildren(ValueLabel)]
            if drawing is not None
            else []
        )
        avoid = [_global_rect(w) for w in shown if w is not origin and w.isVisible()]
        # move() places the frame; its title bar is not known before the first show, so
        # allow for one: the whole window, not only its contents, clears the equipment.
        return place_beside(anchor, popup.size() + QSize(0, _TITLE_BAR), area, avoid)

    def _closed(self, place: Place) -> None:
        self.popups.pop(place, None)
        if place not in self._views:
            self.fits.pop(place, None)

    def close_popups(self) -> None:
        """Close every faceplate."""
        for popup in list(self.popups.values()):
            popup.close()

    # -- internals -----------------------------------------------------------------------
    def _on_request(self, name: str, macros: dict[str, str], popup: bool) -> None:
        if popup:
            self.open_popup(name, macros, navigation_origin())
        else:
            self.go(name, macros)

    def _place(self, name: str, macros: dict[str, str] | None) -> Place | None:
        entry = self.catalog.get(name)
        if entry is None:
            self.failed.emit(f"no screen called {name!r}")
            return None
        merged = {**entry.macros, **(macros or {})}
        return name, tuple(sorted(merged.items()))

    def _load(self, place: Place) -> ScreenView | None:
        name, items = place
        entry = self.catalog.get(name)
        assert entry is not None
        macros = dict(items)
        try:
            title = substitute_macros(entry.title or name, macros)
            view = ScreenView.open(entry.file, self.context, name=name, title=title, macros=macros)
        except ScreenError as exc:
            log.error("%s", exc)
            self.failed.emit(str(exc))
            return None
        if not entry.faceplate and view.form.layout() is None:
            # A drawing (P&ID) uses the window it is shown in: scaled and centred.
            self.fits[place] = DrawingFit(view.form)
        return view

    def _show(self, place: Place) -> bool:
        view = self._views.get(place)
        if view is None:
            view = self._load(place)
            if view is None:
                return False
            self._views[place] = view
            self.stack.addWidget(view)
        self._views.move_to_end(place)
        self._previous = self.current
        self.stack.setCurrentWidget(view)
        self.current = place
        self._trim()
        return True

    def _announce(self) -> None:
        view = self.current_view
        if view is not None:
            self.changed.emit(view.title)

    _previous: Place | None = None

    def _trim(self) -> None:
        while len(self._views) > self.cache_size:
            place, view = next(iter(self._views.items()))
            if place == self.current:
                break
            del self._views[place]
            self.fits.pop(place, None)
            self.stack.removeWidget(view)
            view.deleteLater()
