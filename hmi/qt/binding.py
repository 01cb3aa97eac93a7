"""Coalesced repaint: one timer hands widgets the samples of tags changed since last frame.

Widgets never repaint per sample. The tag store marks what changed; about 30 times a second
:class:`Binder` takes that set (:meth:`TagStore.take_changed`), intersects it with the
tags bound on the screens being shown, and calls each bound widget once with the latest
sample. A tag that changed ten times between frames costs one call.

Bindings are keyed by the widget's id and dropped when Qt destroys it, so a deleted screen
leaves nothing behind (the binder never keeps a widget alive).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from hmi.core.sample import Sample
from hmi.core.tagstore import TagStore

#: shows one sample on a widget: ``apply(tag_name, sample)``
Apply = Callable[[str, Sample], None]

#: ~33 Hz: faster than the eye follows a number, slow enough to cost little
DEFAULT_INTERVAL_MS = 30
#: fewer changed tags than one in this many bound ones: sort them rather than walk all
_SPARSE = 8


class Binder(QObject):
    """Bindings of widgets to tags, served by one coalescing repaint timer.

    ``frame_done(seconds)`` is emitted after each frame that changed something, with the
    time the frame took (for status displays and benchmarks).
    """

    frame_done = Signal(float)

    def __init__(
        self,
        store: TagStore,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self._by_tag: dict[str, dict[int, Apply]] = {}
        #: the calls of each tag as a tuple, made when bindings change, not per frame: a
        #: frame iterates it as is (and a binding made or dropped meanwhile cannot upset it).
        #: In the order the tags were first bound: a frame updates widgets in that order.
        self._calls: dict[str, tuple[Apply, ...]] = {}
        #: each bound tag's place in that order (to sort a few changed tags into it)
        self._rank: dict[str, int] = {}
        self._ranks = itertools.count()
        self._by_owner: dict[int, set[str]] = {}
        self._hooks: dict[int, Callable[[], None]] = {}
        self._watched: set[int] = set()
        self._timer = QTimer(self)
        # Precise: a coarse timer may slip by 5 % and add display lag for nothing.
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)

    # -- timer ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start repainting (the composition root calls this once the window exists)."""
        self._timer.start()

    def stop(self) -> None:
        """Stop repainting (bindings stay)."""
        self._timer.stop()

    @property
    def active(self) -> bool:
        """True while the repaint timer runs."""
        return self._timer.isActive()

    @property
    def interval_ms(self) -> int:
        """Milliseconds between frames."""
        return self._timer.interval()

    # -- bindings ------------------------------------------------------------------------
    def bind(self, owner: QObject, name: str, apply: Apply, *, initial: bool = True) -> None:
        """Call ``apply(name, sample)`` on each frame where ``name`` changed.

        With ``initial`` it is called at once with the current sample, so a screen opened
        on a quiet tag shows its value (or its BAD 'waiting for initial data') immediately.
        """
        key = self._track(owner)
        owners = self._by_tag.setdefault(name, {})
        owners[key] = apply
        if name not in self._rank:
            self._rank[name] = next(self._ranks)
        self._calls[name] = tuple(owners.values())
        self._by_owner.setdefault(key, set()).add(name)
        if initial:
            apply(name, self.store.get(name))

    def add_frame_hook(self, owner: QObject, hook: Callable[[], None]) -> None:
        """Call ``hook()`` after every frame (trends redraw their curves there)."""
        self._hooks[self._track(owner)] = hook

    def unbind(self, owner: QObject) -> None:
        """Drop every binding and frame hook of ``owner``."""
        self._forget(id(owner))

    def bound_tags(self) -> set[str]:
        """Names of every tag some widget is bound to."""
        return set(self._by_tag)

    def bound_count(self) -> int:
        """Number of (widget, tag) bindings."""
        return sum(len(owners) for owners in self._by_tag.values())

    def is_bound(self, owner: QObject) -> bool:
        """True when ``owner`` has a binding or a frame hook."""
        key = id(owner)
        return key in self._by_owner or key in self._hooks

    def _track(self, owner: QObject) -> int:
        key = id(owner)
        if key not in self._watched:
            self._watched.add(key)
            # A partial holding the key, never the widget: the binder keeps nothing alive.
            owner.destroyed.connect(partial(self._forget, key))
        return key

    def _forget(self, key: int, *_: object) -> None:
        for name in self._by_owner.pop(key, ()):
            owners = self._by_tag.get(name)
            if owners is not None:
                owners.pop(key, None)
                if owners:
                    self._calls[name] = tuple(owners.values())
                else:
                    del self._by_tag[name]
                    del self._calls[name]
                    del self._rank[name]
        self._hooks.pop(key, None)

    # -- frames --------------------------------------------------------------------------
    def flush(self) -> int:
        """Run one frame now; returns how many widget updates it made."""
        started = time.perf_counter()
        changed = self.store.take_changed()
        by_tag = self._calls
        # Widgets are updated in the order they were bound (a screen binds in its own
        # order), never in the changed set's hash order: Qt gathers the regions to repaint
        # in the order widgets ask, and 500 labels asking in scattered order cost 4 us more
        # each to repaint than in order (measured, offscreen; the repaint manager is
        # Qt's, not the platform's). Many changes: walk the bound tags (10,000 changed
        # tags on a 50-tag screen cost 50 lookups); a few: sort them into that order.
        if len(changed) * _SPARSE >= len(by_tag):
            names = [name for name in by_tag if name in changed]
        else:
            names = [name for name in changed if name in by_tag]
            names.sort(key=self._rank.__getitem__)
        calls = 0
        get = self.store.get
        no_calls: tuple[Apply, ...] = ()
        for name in names:
            # Looked up now, not before the loop: a call may unbind a later tag's widget.
            applies = by_tag.get(name, no_calls)
            sample = get(name)
            for apply in applies:
                apply(name, sample)
            calls += len(applies)
        for hook in list(self._hooks.values()):
            hook()
        if calls:
            self.frame_done.emit(time.perf_counter() - started)
        return calls
