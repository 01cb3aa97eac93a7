"""Automatic logout after a time without keyboard or mouse input."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer

_ACTIVITY = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}


class IdleWatch(QObject):
    """Calls ``on_idle`` once ``timeout`` seconds pass with no input anywhere in the app.

    Install it on the QApplication (``app.installEventFilter(watch)``). ``clock`` is
    settable so tests need not wait.
    """

    def __init__(
        self,
        timeout: float,
        on_idle: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.timeout = timeout
        self._on_idle = on_idle
        self._clock = clock
        self.last_activity = clock()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        if timeout > 0:
            self._timer.start(int(min(timeout / 4, 5.0) * 1000))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY:
            self.last_activity = self._clock()
        return False

    def check(self) -> None:
        """Log out when idle too long (the timer calls this; tests may too)."""
        if self.timeout > 0 and self._clock() - self.last_activity >= self.timeout:
            self.last_activity = self._clock()
            self._on_idle()
