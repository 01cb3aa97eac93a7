"""The base of our self-painted widgets: a ``tag`` property, a TagLink, a fixed size hint.

Quality is part of every frame a widget paints (never a style-sheet change); the tooltip
names the tag, its quality and reason, and why the user may not write it. Widgets that mark
alarms (``MARKS_ALARMS``) draw the alarm engine's state of their tag (:meth:`alarm_mark`) and
repaint when it changes.
"""

from __future__ import annotations

from PySide6.QtCore import Property, QRectF, QSize
from PySide6.QtGui import QEnterEvent, QFont, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from hmi.core.quality import Quality
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.qt.designer_preview import attach_preview
from hmi.qt.link import TagLink
from hmi.qt.look import AlarmMark, describe_sample, mark_side, paint_alarm_mark, paint_quality


class TagWidget(QWidget):
    """A widget showing the tag named by its ``tag`` property, painted in Python.

    Subclasses paint in :meth:`paint` and may show more tags by overriding
    :meth:`tag_names`; writes go through ``self.tag_link.write``.
    """

    #: the size the widget asks for, and keeps: values changing never move the layout
    HINT = QSize(120, 40)
    #: draws its tag's alarm mark: repaint when the alarm engine's state of it changes
    MARKS_ALARMS = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tag = ""
        self._quality_shown = Quality()
        self._zoom = 1.0
        self.tag_link = TagLink(
            self,
            self.tag_names,
            self._on_sample,
            self._on_session,
            on_alarm=self._on_alarm if self.MARKS_ALARMS else None,
        )
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        attach_preview(self.tag_link)

    # -- properties ----------------------------------------------------------------------
    def _get_tag(self) -> str:
        return self._tag

    def _set_tag(self, name: str) -> None:
        self._tag = name.strip()
        self.tag_link.refresh()
        self.update()

    tag = Property(str, _get_tag, _set_tag, doc="the tag shown, area/device/point")

    # -- data ----------------------------------------------------------------------------
    def tag_names(self) -> list[str]:
        """The tags this widget shows (the ``tag`` property; subclasses add more)."""
        return [self._tag]

    @property
    def sample(self) -> Sample:
        """The latest sample of the main tag."""
        return self.tag_link.sample(self._tag)

    @property
    def tag_def(self) -> Tag | None:
        """The definition of the main tag (unit, limits, alarms, write roles)."""
        return self.tag_link.tag(self._tag)

    def quality(self) -> Quality:
        """The worst quality of the tags shown: what the widget marks."""
        names = self.tag_link.names()
        return Quality.worst([self.tag_link.sample(name).quality for name in names])

    def write_tag(self) -> str:
        """The tag this widget writes, or ``""`` for a display-only widget."""
        return ""

    def _on_sample(self, name: str, sample: Sample) -> None:
        quality = self.quality()
        if quality != self._quality_shown:
            self._quality_shown = quality
            self._update_tooltip()
        self.update()

    def _on_session(self) -> None:
        self._update_tooltip()

    def _on_alarm(self, name: str) -> None:
        # Called once per frame at most (the alarm model's frame hook): Qt coalesces it.
        self.update()

    def alarm_mark(self) -> AlarmMark:
        """The main tag's alarm mark: the engine's state (a preview judges the limits)."""
        return self.tag_link.alarm_mark(self._tag)

    def enterEvent(self, event: QEnterEvent) -> None:
        """The pointer came over it: its tooltip says the value of now, not of its last
        quality change (kept current here rather than on every sample)."""
        self._update_tooltip()
        super().enterEvent(event)

    def _update_tooltip(self) -> None:
        names = self.tag_link.names()
        tip = (
            "\n\n".join(
                describe_sample(name, self.tag_link.tag(name), self.tag_link.sample(name))
                for name in names
            )
            or "no tag configured"
        )
        target = self.write_tag()
        if target:
            denied = self.tag_link.write_cursor(target)
            if denied:
                tip += f"\n\nRead only: {denied}"
        self.setToolTip(tip)

    # -- painting ------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        """Fixed: the layout never jumps when values or quality change."""
        return self.HINT

    def minimumSizeHint(self) -> QSize:
        """Same as the size hint."""
        return self.HINT

    def paintEvent(self, event: object) -> None:
        """Paint the widget, its quality over it, then its alarm mark over both.

        The mark comes last: a BAD input's hatch must never fade an alarm. With a zoom
        (a drawing scaled to a large window) the painter is scaled, so subclasses draw in
        the size they were designed for.
        """
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        zoom = self._zoom
        rect = QRectF(self.rect())
        if zoom != 1.0:
            painter.scale(zoom, zoom)
            rect = QRectF(0, 0, rect.width() / zoom, rect.height() / zoom)
        self.paint(painter, rect)
        paint_quality(painter, rect, self.quality())
        if self.MARKS_ALARMS:
            mark = self.shown_mark()
            if mark.priority:
                paint_alarm_mark(painter, self.mark_box(rect), mark)
        painter.end()

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """Draw the widget's content (subclasses); the alarm mark is drawn after it."""

    def shown_mark(self) -> AlarmMark:
        """The alarm mark drawn (default: the main tag's)."""
        return self.alarm_mark()

    def mark_box(self, rect: QRectF) -> QRectF:
        """Where the alarm mark goes (default: the top left corner)."""
        side = mark_side(rect.height() - 4)
        return QRectF(rect.left() + 3, rect.top() + 3, side, side)

    # -- zoom ----------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """How much larger than designed the widget is drawn (1: as designed)."""
        return self._zoom

    def set_zoom(self, zoom: float) -> None:
        """Draw ``zoom`` times the designed size (the screen scales the geometry)."""
        if zoom != self._zoom:
            self._zoom = zoom
            self.update()

    def value_font(self, pixels: int, bold: bool = True) -> QFont:
        """The font values are drawn in (tabular digits keep numbers from dancing)."""
        font = QFont(self.font())
        font.setPixelSize(pixels)
        font.setBold(bold)
        font.setStyleHint(QFont.StyleHint.Monospace)
        return font
