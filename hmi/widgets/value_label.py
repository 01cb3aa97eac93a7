"""ValueLabel: a tag's value with its unit, in the tag's format."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Property, QEvent, QSize, Qt
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from hmi.core.quality import GOOD, Quality
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.qt.context import HmiContext
from hmi.qt.designer_preview import attach_preview
from hmi.qt.format import Formatter, formatter
from hmi.qt.link import TagLink
from hmi.qt.look import NO_MARK, AlarmMark, QualityOverlay, describe_sample, local_mark
from hmi.qt.registry import register_widget

#: where the quality mark starts: after the alarm mark (its halo included)
_MARK_ROOM = 27.0

#: the value shown before any: of no value's class, so the next sample is formatted
_UNSET = object()


class _Readout:
    """What a ValueLabel shows, and the per-sample work of showing it.

    A plain Python object, not the label: on a Qt object every attribute *write* goes
    through PySide's ``setattr`` (about 130 ns against 8 ns here), and the binder calls
    :meth:`show` for every changed tag of every frame. The formatter is made once per
    tag, format and unit; a value equal to the one shown is not formatted again, a text
    equal to the one shown is not set again.
    """

    __slots__ = (
        "alarm_tag",
        "chars",
        "label",
        "link",
        "mark",
        "quality",
        "set_text",
        "text",
        "to_text",
        "value",
    )

    #: the label's link (set by the label once it made it: the link calls :meth:`show`)
    link: TagLink

    def __init__(self, label: ValueLabel, set_text: Callable[[str], None]) -> None:
        self.label = label
        self.set_text = set_text
        self.text = ""
        #: the value whose text is shown (:data:`_UNSET`: format the next one)
        self.value: object = _UNSET
        #: made from the tag, format and unit on first use; None: make it again
        self.to_text: Formatter | None = None
        #: the tag when it has alarm limits (local marks are judged from them), else None
        self.alarm_tag: Tag | None = None
        self.quality: Quality = GOOD
        self.mark = NO_MARK
        #: the label's width in characters (its ``chars``)
        self.chars = 8

    def reformat(self) -> None:
        """Make the formatter again, and format the next value even if it is the same."""
        self.to_text = None
        self.value = _UNSET

    def _make_formatter(self) -> Formatter:
        label = self.label
        tag = self.link.tag(label._tag)
        self.alarm_tag = tag if tag is not None and tag.alarms is not None else None
        self.to_text = formatter(tag, label._format, label._show_unit)
        return self.to_text

    def show(self, name: str, sample: Sample) -> None:
        """Show ``sample`` (the binder's call, through the link)."""
        to_text = self.to_text or self._make_formatter()
        value = sample.value
        shown = self.value
        # Equal and of the same class: 1, 1.0 and True are equal but read differently.
        if value is not shown and (value.__class__ is not shown.__class__ or value != shown):
            text = to_text(value)
            if len(text) > self.chars and value.__class__ in (int, float):
                # Right-aligned, Qt would clip the leading digits: 12345678901 would read
                # 2345678901, a wrong number with no sign of it. Say it does not fit (the
                # tooltip has the value; the screen's `chars` is too small).
                text = "#" * self.chars
            self.value = value
            if text != self.text:
                self.text = text
                self.set_text(text)
        quality = sample.quality
        # The engine's mark does not move with samples (``ValueLabel._on_alarm`` brings
        # it); only without an engine is it judged from the value, and only for a tag
        # with alarm limits (the common tag has none and costs no lookup).
        alarm_tag = self.alarm_tag
        mark = self.mark
        if alarm_tag is not None and self.link.local_marks:
            mark = local_mark(alarm_tag, sample)
        # Identity first: GOOD and NO_MARK are shared objects, so the normal case costs no
        # __eq__.
        if (quality is not self.quality and quality != self.quality) or (
            mark is not self.mark and mark != self.mark
        ):
            self.label._marks(quality, mark)


@register_widget(
    "A tag's value with unit and format; marks quality and alarms", width=110, height=24
)
class ValueLabel(QLabel):
    """Shows one tag's value, e.g. ``2.41 m``.

    A QLabel underneath: Qt paints the text in C++, which keeps 500 labels at 50 Hz cheap.
    Quality and alarm marks are drawn by a child overlay that exists only while something
    is abnormal; the alarm mark is the alarm engine's state of the tag. The width is fixed
    from ``chars`` so a changing value never moves the layout; values stay right-aligned
    so digits line up. A sample costs about what a plain ``QLabel.setText`` does (issue
    17; the work is in :class:`_Readout`).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tag = ""
        self._format = ""
        self._show_unit = True
        self._chars = 8
        self._overlay: QualityOverlay | None = None
        self._readout = readout = _Readout(self, self.setText)
        self.tag_link = TagLink(
            self,
            lambda: [self._tag],
            # The link calls the readout itself: no call through the label per sample.
            readout.show,
            self._update_tooltip,
            self._on_attach,
            on_alarm=self._on_alarm,
        )
        readout.link = self.tag_link
        self.setObjectName("ValueLabel")
        # A value is text, never markup (a string tag reading "<b>" shows "<b>"); and
        # Qt then need not look for markup in every new text.
        self.setTextFormat(Qt.TextFormat.PlainText)
        # A readout is an opaque field: filled by the label itself, Qt need not paint
        # the screen beneath it on every new value (with the theme, its style sheet's
        # background fills it instead).
        self.setAutoFillBackground(True)
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
        self._readout.reformat()
        self.tag_link.refresh()

    def _get_format(self) -> str:
        return self._format

    def _set_format(self, spec: str) -> None:
        self._format = spec
        self._readout.reformat()
        self._render(self.tag_link.sample(self._tag))

    def _get_show_unit(self) -> bool:
        return self._show_unit

    def _set_show_unit(self, show: bool) -> None:
        self._show_unit = show
        self._readout.reformat()
        self._fix_size()

    def _get_chars(self) -> int:
        return self._chars

    def _set_chars(self, chars: int) -> None:
        self._chars = self._readout.chars = max(2, chars)
        self._readout.reformat()
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

    def _on_attach(self, context: HmiContext | None) -> None:
        # The tag's definition comes from the session: read it again. The binding has
        # just shown the current sample, maybe in the words of no session (no unit): show
        # it again. Detached, the text shown stays.
        self._readout.reformat()
        if context is not None:
            self._render(self.tag_link.sample(self._tag))

    def _on_alarm(self, name: str) -> None:
        sample = self.sample
        self._marks(sample.quality, self.tag_link.alarm_mark(self._tag, sample))

    def _render(self, sample: Sample) -> None:
        self._readout.show(self._tag, sample)

    def _marks(self, quality: Quality, mark: AlarmMark) -> None:
        readout = self._readout
        if quality == readout.quality and mark == readout.mark:
            return
        readout.quality, readout.mark = quality, mark
        if self._overlay is None:
            self._overlay = QualityOverlay(self)
            # Left of the right-aligned digits, after the alarm mark's slot.
            self._overlay.mark_left = _MARK_ROOM
        self._overlay.set_state(quality, mark)
        self._update_tooltip()

    def enterEvent(self, event: QEnterEvent) -> None:
        """The pointer came over it: its tooltip says the value of now, not of its last
        quality change (kept current here rather than on every sample)."""
        self._update_tooltip()
        super().enterEvent(event)

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
