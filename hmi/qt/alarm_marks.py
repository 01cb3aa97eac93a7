"""The alarm marks of value widgets: the engine's state per tag, who shows it, the flash.

A ValueLabel, Tank or Gauge marks its tag's alarm the way the alarm engine sees it — after
delays and deadband, nothing while shelved, suppressed or out of service, unacknowledged
apart from acknowledged — not by judging the limits again in the GUI.
:class:`AlarmMarks` belongs to the session's :class:`~hmi.qt.alarms.AlarmModel`, which
feeds it every status it takes. It keeps:

- one :class:`~hmi.qt.look.AlarmMark` per annunciated tag, so what a widget does per
  sample is one dict lookup (:meth:`AlarmMarks.get`);
- the widgets shown (:meth:`watch`, by their :class:`~hmi.qt.link.TagLink` while their
  screen is shown), told once per frame about the tags whose mark changed;
- one flash timer for the whole session (ISA-101: a slow flash while an alarm waits for
  its acknowledgement). It runs only while the flash is on and an alarm waits; each half
  period it tells the widgets of waiting tags, and ``flashed`` tells the banner and list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from PySide6.QtCore import QObject, QTimer, Signal

from hmi.core.alarms import AlarmState, AlarmStatus
from hmi.qt.look import NO_MARK, AlarmMark

#: half the flash period: 1 Hz, slow enough to read through, fast enough to catch the eye
FLASH_HALF_PERIOD_MS = 500

#: told the tag whose mark changed
OnMark = Callable[[str], None]


def status_mark(status: AlarmStatus, lit: bool = True) -> AlarmMark:
    """The mark of ``status`` (none unless annunciated); ``lit`` False is the flash's dark half."""
    state = status.state
    if state is AlarmState.UNACKNOWLEDGED:
        return AlarmMark(status.priority, True, False, not lit)
    if state is AlarmState.ACKNOWLEDGED:
        return AlarmMark(status.priority)
    if state is AlarmState.RETURNED_UNACKNOWLEDGED:
        return AlarmMark(status.priority, True, True, not lit)
    return NO_MARK


class AlarmMarks(QObject):
    """Marks per tag, the widgets watching them, and the session's one flash timer."""

    #: each half period of the flash (views drawing waiting alarms repaint)
    flashed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._marks: dict[str, AlarmMark] = {}
        #: tags waiting for an acknowledgement: the ones that flash
        self._waiting: set[str] = set()
        self._watchers: dict[str, dict[int, OnMark]] = {}
        self._by_owner: dict[int, list[str]] = {}
        self._tracked: set[int] = set()
        self._flash = False
        #: the flash's bright half (always True while the flash is off or nothing waits)
        self.lit = True
        self._timer = QTimer(self)
        self._timer.setInterval(FLASH_HALF_PERIOD_MS)
        self._timer.timeout.connect(self._on_flash)

    # -- marks -----------------------------------------------------------------------------
    def take(self, status: AlarmStatus) -> None:
        """Keep ``status``'s mark (the model calls this for each status it takes)."""
        tag = status.tag
        mark = status_mark(status)
        if mark.priority:
            self._marks[tag] = mark
        else:
            self._marks.pop(tag, None)
        if mark.unacknowledged:
            self._waiting.add(tag)
        else:
            self._waiting.discard(tag)

    def get(self, tag: str) -> AlarmMark:
        """``tag``'s mark now (in the flash's dark half, dimmed if it waits)."""
        mark = self._marks.get(tag, NO_MARK)
        if not self.lit and mark.unacknowledged:
            return mark._replace(dim=True)
        return mark

    @property
    def waiting(self) -> int:
        """How many alarms wait for an acknowledgement."""
        return len(self._waiting)

    # -- watchers ----------------------------------------------------------------------------
    def watch(self, owner: QObject, tags: Iterable[str], on_mark: OnMark) -> None:
        """Call ``on_mark(tag)`` when the mark of one of ``tags`` changes (once per frame)."""
        key = id(owner)
        self.unwatch(owner)
        names = list(dict.fromkeys(tags))
        for tag in names:
            self._watchers.setdefault(tag, {})[key] = on_mark
        self._by_owner[key] = names
        if key not in self._tracked:
            self._tracked.add(key)
            # A partial holding the key, never the widget: nothing is kept alive here.
            owner.destroyed.connect(partial(self._forget, key))

    def unwatch(self, owner: QObject) -> None:
        """Stop telling ``owner`` (its screen is hidden)."""
        self._forget(id(owner))

    def watched(self) -> int:
        """How many (widget, tag) pairs are watched."""
        return sum(len(owners) for owners in self._watchers.values())

    def _forget(self, key: int, *_: object) -> None:
        for tag in self._by_owner.pop(key, ()):
            owners = self._watchers.get(tag)
            if owners is not None:
                owners.pop(key, None)
                if not owners:
                    del self._watchers[tag]

    def notify(self, tags: Iterable[str] | None) -> None:
        """Tell the watchers of ``tags`` (None: of every tag), then run the flash if needed."""
        watchers = self._watchers
        if tags is None:
            names: Iterable[str] = list(watchers)
        elif isinstance(tags, set | frozenset) and len(tags) > len(watchers):
            names = [tag for tag in watchers if tag in tags]
        else:
            names = [tag for tag in tags if tag in watchers]
        for tag in names:
            for on_mark in list(watchers.get(tag, {}).values()):
                on_mark(tag)
        self._arm()

    # -- flash -------------------------------------------------------------------------------
    @property
    def flash(self) -> bool:
        """True when waiting alarms flash (the app turns it on; tests and Designer do not)."""
        return self._flash

    @flash.setter
    def flash(self, on: bool) -> None:
        self._flash = bool(on)
        self._arm()

    def _arm(self) -> None:
        run = self._flash and bool(self._waiting)
        if run and not self._timer.isActive():
            self._timer.start()
        elif not run and self._timer.isActive():
            self._timer.stop()
            if not self.lit:  # never stop in the dark half
                self.lit = True
                self.notify(None)
                self.flashed.emit()

    def _on_flash(self) -> None:
        self.lit = not self.lit
        # Only the widgets of waiting tags: the rest of the screen is not touched.
        self.notify(self._waiting)
        self.flashed.emit()
