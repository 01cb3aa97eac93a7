"""ValueLabel: a tag's value with its unit, in the tag's format."""

from __future__ import annotations

from PySide6.QtCore import Property, QEvent, QSize, Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from hmi.core.quality import Quality
from hmi.core.sample import Sample
from hmi.qt.designer_preview import attach_preview
from hmi.qt.format import format_value
from hmi.qt.link import TagLink
from hmi.qt.look import NO_MARK, AlarmMark, QualityOverlay, describe_sample, local_mark
from hmi.qt.registry import register_widget

#: where the quality mark starts: after the alarm mark (its halo included)
_MARK_ROOM = 27.0


@register_widget(
    "A tag's value with unit and format; marks quality and alarms", width=110, height=24
)
class ValueLabel(QLabel):
    """Shows one tag's value, e.g. ``2.41 m``.

    A QLabel underneath: Qt paints the text in C++, which keeps 500 labels at 50 Hz cheap.
    Quality and alarm marks are drawn by a child overlay that exists only while something
    is abnormal; the alarm mark is the alarm engine's state of the tag. The width is fixed
    from ``chars`` so a changing value never moves the layout; values stay right-aligned
    so digits line up.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tag = ""
        self._format = ""
        self._show_unit = True
        self._chars = 8
        self._text = ""
        self._quality = Quality()
        self._mark = NO_MARK
        self._overlay: QualityOverlay | None = None
        self.tag_link = TagLink(
            self,
            lambda: [self._tag],
            self._on_sample,
            self._update_tooltip,
            on_alarm=self._on_alarm,
        )
        self.setObjectName("ValueLabel")
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setText("----")
        self._fix_size()
        attach_preview(self.tag_link)

    # -- properties ----------------------------------------------------------------------
    def _get_tag(self) -> str:
        return self._tag

    def _set_tag(self, name: str) -> None:
        self._tag = name.strip()
        self.tag_link.refresh()

    def _get_format(self) -> str:
        return self._format

    def _set_format(self, spec: str) -> None:
        self._format = spec
        self._render(self.tag_link.sample(self._tag))

    def _get_show_unit(self) -> bool:
        return self._show_unit

    def _set_show_unit(self, show: bool) -> None:
        self._show_unit = show
        self._fix_size()

    def _get_chars(self) -> int:
        return self._chars

    def _set_chars(self, chars: int) -> None:
        self._chars = max(2, chars)
        self._fix_size()

    tag = Property(str, _get_tag, _set_tag, doc="the tag shown")
    format = Property(str, _get_format, _set_format, doc="format spec, e.g. .2f (default: tag's)")
    showUnit = Property(bool, _get_show_unit, _set_show_unit, doc="append the engineering unit")
    chars = Property(int, _get_chars, _set_chars, doc="width in characters, value and unit")

    # -- data ----------------------------------------------------------------------------
    @property
    def sample(self) -> Sample:
        """The latest sample shown."""
        return self.tag_link.sample(self._tag)

    def _on_sample(self, name: str, sample: Sample) -> None:
        self._render(sample)

    def _on_alarm(self, name: str) -> None:
        sample = self.sample
        self._marks(sample.quality, self.tag_link.alarm_mark(self._tag, sample))

    def _render(self, sample: Sample) -> None:
        link = self.tag_link
        tag = link.tag(self._tag)
        text = format_value(sample.value, tag, self._format, with_unit=self._show_unit)
        if text != self._text:
            self._text = text
            self.setText(text)
        quality = sample.quality
        # The engine's mark does not move with samples (``_on_alarm`` brings it); only
        # without an engine is it judged from the value.
        # (The tag is at hand: a tag without alarms skips the lookup, the common case.)
        if link.local_marks and tag is not None and tag.alarms is not None:
            mark = local_mark(tag, sample)
        else:
            mark = self._mark
        # Identity first: GOOD and NO_MARK are shared objects, so the normal case costs no
        # __eq__.
        if (quality is not self._quality and quality != self._quality) or (
            mark is not self._mark and mark != self._mark
        ):
            self._marks(quality, mark)

    def _marks(self, quality: Quality, mark: AlarmMark) -> None:
        if quality == self._quality and mark == self._mark:
            return
        self._quality, self._mark = quality, mark
        if self._overlay is None:
            self._overlay = QualityOverlay(self)
            # Left of the right-aligned digits, after the alarm mark's slot.
            self._overlay.mark_left = _MARK_ROOM
        self._overlay.set_state(quality, mark)
        self._update_tooltip()

    def _update_tooltip(self) -> None:
        tag = self.tag_link.tag(self._tag)
        self.setToolTip(describe_sample(self._tag, tag, self.sample) if self._tag else "")

    # -- size ----------------------------------------------------------------------------
    def _fix_size(self) -> None:
        metrics = self.fontMetrics()
        # Room on the left for the alarm mark and the quality mark, so neither hides digits.
        width = metrics.horizontalAdvance("0" * self._chars) + int(_MARK_ROOM) + 24
        self.setFixedSize(QSize(width, metrics.height() + 8))

    def changeEvent(self, event: QEvent) -> None:
        """A new font (a screen drawn larger) keeps the room for ``chars`` characters."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fix_size()
