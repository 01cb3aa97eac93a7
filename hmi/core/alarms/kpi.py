"""Alarm-system performance indicators (ISA-18.2 section 16, EEMUA 191), from transitions.

- alarms per 10 minutes: annunciations in the last 10 minutes, and the average and peak
  over the whole observed period (EEMUA: about 1 per 10 minutes is manageable, more than
  10 is a flood);
- chattering alarms: tags that annunciated ``chatter_count`` times or more within
  ``chatter_window`` seconds (ISA-18.2's rule of thumb: 3 in 1 minute);
- standing alarms: active for longer than ``standing_after`` (24 h by default).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from hmi.core.alarms.records import AlarmTransition

TEN_MINUTES = 600.0


@dataclass(frozen=True, slots=True)
class AlarmKpis:
    """A snapshot of the indicators at ``time``."""

    time: float
    #: annunciations within the last 10 minutes
    alarms_last_10min: int
    #: average annunciations per 10 minutes since the tracker started
    average_per_10min: float
    #: the busiest 10-minute period (aligned to multiples of 600 s) since start
    peak_per_10min: int
    #: fraction of 10-minute periods with more than ``flood_threshold`` annunciations
    flood_fraction: float
    chattering: tuple[str, ...]
    standing: tuple[str, ...]
    #: alarms currently annunciated (unacknowledged, acknowledged or returned-unacked)
    annunciated: int
    shelved: int
    suppressed: int
    out_of_service: int

    def to_dict(self) -> dict[str, object]:
        """Plain types, for the bus."""
        return {
            "time": self.time,
            "alarms_last_10min": self.alarms_last_10min,
            "average_per_10min": self.average_per_10min,
            "peak_per_10min": self.peak_per_10min,
            "flood_fraction": self.flood_fraction,
            "chattering": list(self.chattering),
            "standing": list(self.standing),
            "annunciated": self.annunciated,
            "shelved": self.shelved,
            "suppressed": self.suppressed,
            "out_of_service": self.out_of_service,
        }


class KpiTracker:
    """Feed it every transition; ask :meth:`snapshot` at any time. Memory stays bounded."""

    def __init__(
        self,
        start: float,
        chatter_count: int = 3,
        chatter_window: float = 60.0,
        standing_after: float = 24 * 3600.0,
        flood_threshold: int = 10,
    ) -> None:
        self.start = start
        self.chatter_count = chatter_count
        self.chatter_window = chatter_window
        self.standing_after = standing_after
        self.flood_threshold = flood_threshold
        self._recent: deque[float] = deque()  # annunciation times within 10 minutes
        self._per_tag: dict[str, deque[float]] = {}  # within the chatter window
        self._periods: dict[int, int] = {}  # 10-minute period index -> annunciations
        self._total = 0
        self._active_since: dict[str, float] = {}
        self._states: dict[str, AlarmTransition] = {}

    def feed(self, transitions: Iterable[AlarmTransition]) -> None:
        """Account for transitions (in time order)."""
        for transition in transitions:
            status = transition.status
            self._states[status.tag] = transition
            if status.active_since is None:
                self._active_since.pop(status.tag, None)
            else:
                self._active_since[status.tag] = status.active_since
            if transition.annunciates:
                self._count(status.tag, transition.time)

    def _count(self, tag: str, time: float) -> None:
        self._total += 1
        self._recent.append(time)
        times = self._per_tag.setdefault(tag, deque())
        times.append(time)
        while times and times[0] <= time - self.chatter_window:
            times.popleft()
        period = int(time // TEN_MINUTES)
        self._periods[period] = self._periods.get(period, 0) + 1
        # Keep a week of periods: enough for the peak and the flood share operators review.
        if len(self._periods) > 7 * 24 * 6:
            del self._periods[min(self._periods)]

    def snapshot(self, now: float) -> AlarmKpis:
        """The indicators at ``now``."""
        while self._recent and self._recent[0] <= now - TEN_MINUTES:
            self._recent.popleft()
        chattering = []
        for tag, times in self._per_tag.items():
            while times and times[0] <= now - self.chatter_window:
                times.popleft()
            if len(times) >= self.chatter_count:
                chattering.append(tag)
        self._per_tag = {tag: times for tag, times in self._per_tag.items() if times}
        elapsed_periods = max(1.0, (now - self.start) / TEN_MINUTES)
        n_periods = max(1, int(now // TEN_MINUTES) - int(self.start // TEN_MINUTES) + 1)
        floods = sum(1 for count in self._periods.values() if count > self.flood_threshold)
        states = [t.status for t in self._states.values()]
        return AlarmKpis(
            time=now,
            alarms_last_10min=len(self._recent),
            average_per_10min=self._total / elapsed_periods,
            peak_per_10min=max(self._periods.values(), default=0),
            flood_fraction=min(1.0, floods / n_periods),
            chattering=tuple(sorted(chattering)),
            standing=tuple(
                sorted(
                    tag
                    for tag, since in self._active_since.items()
                    if now - since >= self.standing_after
                )
            ),
            annunciated=sum(1 for s in states if s.state.annunciated),
            shelved=sum(1 for s in states if s.shelved),
            suppressed=sum(1 for s in states if s.suppressed),
            out_of_service=sum(1 for s in states if s.out_of_service),
        )
