"""Log lines about what others send, throttled: an attacker (or a broken peer) who sends
thousands of bad messages a second must not flood the log.

At most one line per key (a reason) every :data:`LOG_EVERY` seconds; the next line says
how many were left out meanwhile. Counters count every one; the log only shows what kind
of trouble there is, and one example of it.
"""

from __future__ import annotations

#: seconds between two log lines of one key
LOG_EVERY = 10.0


class Throttle:
    """Decides, per key, whether a line is logged now (see the module docstring)."""

    def __init__(self, every: float = LOG_EVERY) -> None:
        self._every = every
        #: key -> (when it was last logged, lines left out since then)
        self._logged: dict[str, tuple[float, int]] = {}

    def __call__(self, key: str, now: float) -> str | None:
        """None: stay quiet now; else log now, followed by the returned text (empty, or
        how many lines were left out since the last one)."""
        last, quiet = self._logged.get(key, (-self._every, 0))
        if now - last < self._every:
            self._logged[key] = (last, quiet + 1)
            return None
        self._logged[key] = (now, 0)
        return f" (and {quiet} more like it since the last line)" if quiet else ""
