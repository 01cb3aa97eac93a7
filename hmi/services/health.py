"""What is wrong with the backend's storage right now, for the alarm engine to alarm.

The stores (audit trail, alarm journal, history, session state) and the disk watch report
here: ``health.report("audit", "database or disk is full")`` when a write fails, and
``health.report("audit", None)`` once writing works again. The alarm engine listens and
keeps one system alarm per store (:mod:`hmi.services.system_alarms`), so a failing store
is seen by the operators, not only in a log.

It is an object of the backend's process, not a bus topic: every store it watches lives
in the backend (``hmi backend``, or the one process of ``hmi demo``/``hmi run``), and
nobody on the network can raise or clear these alarms by publishing something.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

#: the audit trail (``audit.sqlite``): while it fails, writes and alarm requests are refused
AUDIT = "audit"
#: the alarm journal (``alarms.sqlite``): while it fails, alarm requests are refused
JOURNAL = "journal"
#: the history (``history.sqlite``): rows wait in a bounded buffer
HISTORY = "history"
#: history rows lost (the buffer overflowed while the store failed)
HISTORY_LOSS = "history-loss"
#: logged-out sessions and disabled users (``sessions.json``): kept in memory meanwhile
SESSIONS = "sessions"
#: the data folder's disk is nearly full (a warning before the stores fail)
DISK = "disk"

#: every item a backend reports, in the order its alarms are made
ITEMS = (AUDIT, JOURNAL, HISTORY, HISTORY_LOSS, SESSIONS, DISK)

#: ``listener(item, problem)``: ``problem`` is None when the item is healthy again
Listener = Callable[[str, str | None], None]


class StoreHealth:
    """The current problem of each item (see :data:`ITEMS`), and who wants to know."""

    def __init__(self) -> None:
        self._problems: dict[str, str] = {}
        self._listeners: list[Listener] = []

    def report(self, item: str, problem: str | None) -> None:
        """``item`` has ``problem`` now (None: it is fine); listeners hear of changes only."""
        if self._problems.get(item) == problem:
            return
        if problem is None:
            del self._problems[item]
            log.warning("storage: %s works again", item)
        else:
            self._problems[item] = problem
            log.error("storage: %s: %s", item, problem)
        for listener in list(self._listeners):
            try:
                listener(item, problem)
            except Exception:  # one broken listener must not keep the news from the others
                log.exception("storage health listener failed")

    def problems(self) -> dict[str, str]:
        """The items with a problem now, and what it is."""
        return dict(self._problems)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns the function that stops it."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop


def describe(exc: BaseException) -> str:
    """An operator's words for a storage error: SQLite's message (``database or disk is
    full``) or the OS error's (``No space left on device``), without a traceback."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)
