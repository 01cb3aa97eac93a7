"""TagLink: what every HMI widget holds to read its tags and write through the session.

Composition rather than a mixin base class (PyDM's 1,500-line mixin is the cautionary tale):
a widget owns a ``tag_link`` and tells it which tag names it shows and what to do with a
sample. The screen attaches the link to a :class:`~hmi.qt.context.HmiContext` while the
screen is shown, and detaches it when hidden.

A widget that marks alarms also gives ``on_alarm``: it is told on attach and then (once
per frame) when the alarm engine's state of one of its tags changes, and reads it with
:meth:`TagLink.alarm_mark`. A sample changes nothing of that mark, so per sample a widget
only reads :attr:`TagLink.local_marks` (True only with no engine, where the mark is judged
from the sample's value).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from hmi.core.command import Command
from hmi.core.sample import NO_SAMPLE, Sample, Value
from hmi.core.tag import Tag
from hmi.qt.context import HmiContext, ResultCallback
from hmi.qt.look import NO_MARK, AlarmMark, local_mark

#: the dynamic property a screen (hmi.qt.screen.ScreenView) names itself by in commands
SCREEN_PROPERTY = "hmiScreen"


def screen_of(widget: QWidget) -> str:
    """The screen ``widget`` is on, as a command records it: the title of the screen that
    holds it (``Overview``, ``LIC-101 controller``), else its window's object name."""
    parent: QWidget | None = widget
    while parent is not None:
        title = parent.property(SCREEN_PROPERTY)
        if title:
            return str(title)
        parent = parent.parentWidget()
    window = widget.window()
    return window.objectName() if window is not None else ""


class TagLink:
    """The binding of one widget: its tag names, latest samples, context and write path."""

    def __init__(
        self,
        owner: QWidget,
        names: Callable[[], list[str]],
        on_sample: Callable[[str, Sample], None],
        on_session: Callable[[], None] | None = None,
        on_attach: Callable[[HmiContext | None], None] | None = None,
        *,
        on_alarm: Callable[[str], None] | None = None,
    ) -> None:
        self.owner = owner
        self._names = names
        self._on_sample = on_sample
        self._on_session = on_session
        #: told the context on attach and None on detach (trends subscribe to every sample)
        self._on_attach = on_attach
        #: told the tag whose alarm mark changed (widgets that draw alarm marks)
        self._on_alarm = on_alarm
        #: marks are judged from the samples here (no alarm engine behind the session)
        self.local_marks = False
        self.context: HmiContext | None = None
        self.samples: dict[str, Sample] = {}

    # -- attach / detach -----------------------------------------------------------------
    def attach(self, context: HmiContext) -> None:
        """Bind every tag of the owner to ``context``'s repaint timer (current values at once)."""
        if self.context is not None:
            self.detach()
        self.context = context
        self.local_marks = not context.alarms.engine
        context.session_changed.connect(self._session_changed)
        names = self.names()
        for name in names:
            context.binder.bind(self.owner, name, self._receive)
        if self._on_alarm is not None:
            context.alarms.marks.watch(self.owner, names, self._alarm_changed)
            for name in names:  # the state now: it may have changed while detached
                self._on_alarm(name)
        if self._on_attach is not None:
            self._on_attach(context)
        self._session_changed()

    def detach(self) -> None:
        """Stop receiving samples (the last ones stay shown)."""
        if self.context is None:
            return
        self.context.binder.unbind(self.owner)
        if self._on_alarm is not None:
            self.context.alarms.marks.unwatch(self.owner)
        if self._on_attach is not None:
            self._on_attach(None)
        with contextlib.suppress(RuntimeError, TypeError):  # already gone with its owner
            self.context.session_changed.disconnect(self._session_changed)
        self.context = None

    def refresh(self) -> None:
        """Re-bind after the owner's tag properties changed."""
        if self.context is not None:
            self.attach(self.context)

    @property
    def attached(self) -> bool:
        """True while bound to a context."""
        return self.context is not None

    def names(self) -> list[str]:
        """The non-empty tag names the owner shows."""
        return [name for name in self._names() if name]

    def _receive(self, name: str, sample: Sample) -> None:
        self.samples[name] = sample
        self._on_sample(name, sample)

    def _alarm_changed(self, name: str) -> None:
        # Called when an engine connects too (every watcher is told): look again.
        if self.context is not None:
            self.local_marks = not self.context.alarms.engine
        if self._on_alarm is not None:
            self._on_alarm(name)

    def _session_changed(self) -> None:
        if self._on_session is not None:
            self._on_session()

    # -- reading -------------------------------------------------------------------------
    def sample(self, name: str) -> Sample:
        """The latest sample of ``name`` this widget received."""
        return self.samples.get(name, NO_SAMPLE)

    def tag(self, name: str) -> Tag | None:
        """The definition of ``name`` (None without a context or for an unknown tag)."""
        return self.context.store.tag(name) if self.context is not None and name else None

    def alarm_mark(self, name: str, sample: Sample | None = None) -> AlarmMark:
        """The alarm mark to draw for ``name``: the alarm engine's state (a dict lookup).

        Only where no engine is behind the session (a preview) is it judged from the
        tag's limits and ``sample`` (default: the latest received).
        """
        context = self.context
        if context is None or not name:
            return NO_MARK
        alarms = context.alarms
        if alarms.engine:
            return alarms.marks.get(name)
        tag = context.store.tag(name)
        if tag is None or tag.alarms is None:
            return NO_MARK
        return local_mark(tag, self.sample(name) if sample is None else sample)

    # -- writing -------------------------------------------------------------------------
    def write_denied(self, name: str) -> str:
        """Why this widget may not write ``name`` now (``""`` when it may)."""
        if not name:
            return "no tag configured"
        if self.context is None:
            return "not connected to a session"
        return self.context.write_denied(name)

    def write(
        self, name: str, value: Value, on_result: ResultCallback | None = None
    ) -> Command | None:
        """Send a command writing ``value`` to ``name``; None when not allowed (nothing sent)."""
        if self.context is None:
            return None
        return self.context.send(name, value, screen=screen_of(self.owner), on_result=on_result)

    def write_cursor(self, name: str) -> str:
        """Set the owner's cursor for whether ``name`` may be written; returns the denial."""
        denied = self.write_denied(name)
        shape = Qt.CursorShape.ForbiddenCursor if denied else Qt.CursorShape.PointingHandCursor
        self.owner.setCursor(shape)
        return denied
