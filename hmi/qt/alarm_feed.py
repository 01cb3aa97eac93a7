"""AlarmFeed: what an alarm widget holds to follow the session's alarms.

The banner, the alarm list and the summary all read one :class:`~hmi.qt.alarms.AlarmModel`
(``context.alarms``). The feed gives such a widget a :class:`~hmi.qt.link.TagLink` with no
tags, so screens attach it when shown and detach it when hidden like any other widget, and
switches the widget to the context's model on attach. Until then (Qt Designer, a test) the
widget reads an empty model of its own, so it draws and never fails. ``on_flash`` is called
each half period of the session's alarm flash (:class:`~hmi.qt.alarm_marks.AlarmMarks`),
while attached.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from hmi.qt.alarms import AlarmModel
from hmi.qt.context import HmiContext
from hmi.qt.link import TagLink

#: called with the tags whose alarms changed, or None for "everything" (a new model)
OnChange = Callable[[frozenset[str] | None], None]


class AlarmFeed:
    """Connects ``owner`` to an alarm model and calls ``on_change`` on each change.

    While the owner's screen is hidden (link detached) the feed is disconnected from the
    session's model, so a hidden alarm page costs nothing; attaching again catches up.
    """

    def __init__(
        self, owner: QWidget, on_change: OnChange, on_flash: Callable[[], None] | None = None
    ) -> None:
        self._on_change = on_change
        self._on_flash = on_flash
        self._pinned = False
        self._connected = False
        self.model = AlarmModel(parent=owner)  # empty: Designer and tests without a session
        #: no tags: the link is only how screens attach and detach the owner
        self.tag_link = TagLink(owner, list, _ignore, on_attach=self._on_attach)

    def attach(self, context: HmiContext) -> None:
        """Follow ``context``'s alarms (the main window's banner is on no screen)."""
        self.tag_link.attach(context)

    def set_model(self, model: AlarmModel) -> None:
        """Read ``model`` from now on, whatever context the owner is attached to."""
        self._pinned = True
        self._follow(model)

    def _on_attach(self, context: HmiContext | None) -> None:
        if self._pinned:
            return
        if context is None:
            self._disconnect()
        else:
            self._follow(context.alarms)

    @property
    def lit(self) -> bool:
        """The flash's bright half (or no flash): waiting alarms are drawn filled."""
        return self.model.marks.lit

    def _follow(self, model: AlarmModel) -> None:
        if model is not self.model:
            self._disconnect()
            self.model = model
        if not self._connected:
            model.changed.connect(self._on_change)
            if self._on_flash is not None:
                model.marks.flashed.connect(self._on_flash)
            self._connected = True
        self._on_change(None)

    def _disconnect(self) -> None:
        if self._connected:
            self._connected = False
            with contextlib.suppress(RuntimeError, TypeError):  # the model may be gone
                self.model.changed.disconnect(self._on_change)
                if self._on_flash is not None:
                    self.model.marks.flashed.disconnect(self._on_flash)


def _ignore(name: object, sample: object) -> None:
    """Alarm widgets bind no tags: nothing comes here."""
