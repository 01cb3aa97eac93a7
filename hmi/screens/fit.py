"""Drawings (absolutely positioned screens: a P&ID) scaled and centred in their window.

A screen drawn in Designer at 1180x600 would sit in the top left corner of a 1920x1080
control-room monitor, small, with a wide empty margin. :class:`DrawingFit` scales it to
the space it has, up to :data:`MOST` times, and centres it; in a window smaller than
drawn it keeps the drawn size and the screen scrolls (text never shrinks below design).

Everything scales together: positions and sizes (the screen's own widgets, not their
internals), the theme's font sizes (one style sheet on the drawing, set only when the zoom
changes, in steps of :data:`STEP`), and our self-painted widgets, which draw with a scaled
painter (``set_zoom``). Scaling is real geometry, not a picture: mouse, tooltips and
faceplate positions stay right.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QRect, QSize, Qt
from PySide6.QtWidgets import QFrame, QGroupBox, QWidget

from hmi.qt.theme import scaled_fonts

#: the largest zoom: beyond it a drawing looks like a toy, and a 4 px line like a beam
MOST = 2.0
#: zoom steps: a window dragged wider restyles at most every 5 %, not every pixel
STEP = 0.05
#: plain containers whose children are part of the drawing (and scale with it)
_CONTAINERS = (QWidget, QFrame, QGroupBox)
#: findChildren option: direct children only (a drawing's parts, not their internals)
_DIRECT = Qt.FindChildOption.FindDirectChildrenOnly


def zoom_for(space: QSize, drawn: QSize, most: float = MOST) -> float:
    """The zoom that fits ``drawn`` into ``space``: at least 1, at most ``most``, in steps."""
    if drawn.width() <= 0 or drawn.height() <= 0:
        return 1.0
    fit = min(space.width() / drawn.width(), space.height() / drawn.height())
    return max(1.0, min(most, math.floor(fit / STEP + 1e-9) * STEP))


def scale_rect(rect: QRect, zoom: float, dx: int = 0, dy: int = 0) -> QRect:
    """``rect`` times ``zoom``, moved by ``(dx, dy)``; edges rounded, not sizes, so parts
    that touched in the drawing (a pipe and its vessel) still touch."""
    left = round(rect.x() * zoom) + dx
    top = round(rect.y() * zoom) + dy
    right = round((rect.x() + rect.width()) * zoom) + dx
    bottom = round((rect.y() + rect.height()) * zoom) + dy
    return QRect(left, top, max(1, right - left), max(1, bottom - top))


class DrawingFit(QObject):
    """Keeps ``form`` (a screen without a layout) scaled and centred in its own size.

    ``form`` is resized by its screen (a scroll area that fills the window); its design
    size is its minimum size, which the screen set to the size drawn.
    """

    def __init__(self, form: QWidget, *, most: float = MOST) -> None:
        super().__init__(form)
        self.form = form
        self.most = most
        self.drawn = QSize(form.minimumSize()) if not form.minimumSize().isEmpty() else form.size()
        #: every widget of the drawing with its geometry as drawn (parents before children)
        self.parts: list[tuple[QWidget, QRect]] = []
        self._collect(form)
        self.zoom = 1.0
        self.offset = (0, 0)
        #: a fixed zoom (:meth:`scale`): the form's size does not change it
        self.fixed = False
        form.installEventFilter(self)

    def _collect(self, parent: QWidget) -> None:
        for child in parent.findChildren(QWidget, options=_DIRECT):
            self.parts.append((child, QRect(child.geometry())))
            # Into plain containers drawn in Designer; never into a widget's own internals.
            if type(child) in _CONTAINERS and child.layout() is None:
                self._collect(child)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Refit when the screen changes size."""
        if watched is self.form and event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        """Scale and centre the drawing for the form's current size."""
        if self.fixed:
            return
        size = self.form.size()
        zoom = zoom_for(size, self.drawn, self.most)
        dx = max(0, (size.width() - round(self.drawn.width() * zoom)) // 2)
        dy = max(0, (size.height() - round(self.drawn.height() * zoom)) // 2)
        self._apply(zoom, dx, dy)

    def scale(self, zoom: float) -> None:
        """Draw at ``zoom`` from now on, whatever the form's size (a faceplate drawn as
        large as the screen it belongs to); the form's minimum size grows with it."""
        self.fixed = True
        self._apply(zoom, 0, 0)
        size = QSize(round(self.drawn.width() * zoom), round(self.drawn.height() * zoom))
        self.form.setMinimumSize(size)
        self.form.resize(size)

    def _apply(self, zoom: float, dx: int, dy: int) -> None:
        if zoom == self.zoom and (dx, dy) == self.offset:
            return
        if zoom != self.zoom:
            # Fonts first: ValueLabels size themselves from their font.
            self.form.setStyleSheet(scaled_fonts(zoom) if zoom != 1.0 else "")
            for widget, _ in self.parts:
                set_zoom = getattr(widget, "set_zoom", None)
                if callable(set_zoom):
                    set_zoom(zoom)
        self.zoom, self.offset = zoom, (dx, dy)
        top = {id(w) for w in self.form.findChildren(QWidget, options=_DIRECT)}
        for widget, drawn in self.parts:
            # Only the drawing's top level moves by the centring offset; nested parts
            # are placed relative to their (already scaled) container.
            shift = (dx, dy) if id(widget) in top else (0, 0)
            rect = scale_rect(drawn, zoom, *shift)
            fixed = widget.minimumSize() == widget.maximumSize()
            if fixed:
                widget.move(rect.topLeft())  # a fixed-size widget keeps its own size
            else:
                widget.setGeometry(rect)
