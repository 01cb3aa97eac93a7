"""Device errors in the log: one line per device and kind per interval, the rest counted.

A device that answers every request wrongly fails 10 to 20 times a second. Logging each
failure (pymodbus wrote a line, and asyncio a full traceback, per malformed reply) buries
everything else, and an operator station shows every ERROR line in its status bar. So
the first failure of a kind is logged at once, with the device's name (the message
starts with it); further ones within ``interval`` are only counted, and when the
interval is over one line says how many there were and the last of them. A kind that
stays quiet for a whole interval is forgotten: its next failure is news again. A failure
of a line shared by several devices (an RTU line that cannot connect) is one message for
all of them: it is logged once, not once per device.

The device status counts every failure too (``DeviceStatus.errors``); the log is for
people, the status for screens and alarms.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

#: a refusal (exception response) is the device's answer, a configuration matter
_LEVELS = {"exception": logging.WARNING}
#: how a summary counts each kind of failure: one, several
_WORDS = {
    "response": ("wrong reply", "wrong replies"),
    "timeout": ("timeout", "timeouts"),
    "connection": ("connection loss", "connection losses"),
    "connect": ("failed connection attempt", "failed connection attempts"),
    "exception": ("refusal", "refusals"),
}


@dataclass(slots=True)
class _Window:
    """One (device, kind) being counted until ``until``."""

    until: float
    count: int = 0
    last: str = ""


class ErrorLog:
    """Rate-limited log lines of device errors (see the module docstring)."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self.interval = interval
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        #: the message just logged, and until when another device's same one is not news
        self._said: tuple[str, float] = ("", 0.0)

    def report(self, device: str, kind: str, message: str) -> None:
        """One failure of ``kind`` at ``device``; ``message`` names the device already."""
        now = self._clock()
        key = (device, kind)
        window = self._windows.get(key)
        if window is None:
            said, until = self._said
            if message != said or now >= until:  # (else a line's failure, logged already)
                self._log.log(_LEVELS.get(kind, logging.ERROR), "%s", message)
                self._said = (message, now + self.interval)
            self._windows[key] = _Window(now + self.interval)
            return
        window.count += 1
        window.last = message
        if now >= window.until:
            self._summarise(key, window, now)

    def flush(self) -> None:
        """Write the summary of every interval that is over; forget quiet kinds.

        Called every status interval by the line, so a count is never held back for
        long after its interval ends (and a device that stopped failing is summarised).
        """
        now = self._clock()
        for key, window in list(self._windows.items()):
            if now >= window.until:
                self._summarise(key, window, now)

    def forget(self, device: str) -> None:
        """Drop ``device``'s windows (it left the line)."""
        for key in [k for k in self._windows if k[0] == device]:
            del self._windows[key]

    def _summarise(self, key: tuple[str, str], window: _Window, now: float) -> None:
        if not window.count:
            del self._windows[key]  # quiet for a whole interval: the next one is news
            return
        kind = key[1]
        one, several = _WORDS.get(kind, (f"{kind} error", f"{kind} errors"))
        self._log.log(
            _LEVELS.get(kind, logging.ERROR),
            "%s (and %d more %s in %g s)",
            window.last,
            window.count,
            one if window.count == 1 else several,
            self.interval,
        )
        # The summary opens the next window: at most one line per interval, always.
        self._windows[key] = _Window(now + self.interval)
