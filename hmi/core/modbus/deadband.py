"""Report-by-exception: pass on only samples that changed beyond the tag's deadband."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from hmi.core.sample import Sample, Value


def differs(old: Value, new: Value, deadband: float) -> bool:
    """True when ``new`` is a change worth publishing after ``old``."""
    if (
        deadband > 0
        and isinstance(old, int | float)
        and isinstance(new, int | float)
        and not isinstance(old, bool)
        and not isinstance(new, bool)
    ):
        return abs(new - old) > deadband
    # NaN != NaN would publish every scan; treat two NaNs as equal.
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return False
    return old != new


class ChangeFilter:
    """Remembers the last published sample of each tag and filters a scan's samples.

    A sample passes when it is the tag's first, its quality changed, or its value moved
    by more than the deadband. The remembered samples are also the last known values a
    driver keeps (marked UNCERTAIN or BAD) after communication loss.
    """

    def __init__(self) -> None:
        self._last: dict[str, Sample] = {}
        self._deadbands: dict[str, float] = {}

    def set_deadband(self, tag: str, deadband: float) -> None:
        """Publish ``tag`` only when it moves by more than ``deadband``."""
        if deadband > 0:
            self._deadbands[tag] = deadband
        else:
            self._deadbands.pop(tag, None)

    @property
    def last(self) -> Mapping[str, Sample]:
        """The last published sample of every tag seen."""
        return self._last

    def changed(self, samples: Mapping[str, Sample]) -> dict[str, Sample]:
        """The samples worth publishing; they become the new last samples."""
        out: dict[str, Sample] = {}
        last, deadbands = self._last, self._deadbands
        for name, sample in samples.items():
            previous = last.get(name)
            if (
                previous is None
                or previous.quality != sample.quality
                or differs(previous.value, sample.value, deadbands.get(name, 0.0))
            ):
                out[name] = sample
                last[name] = sample
        return out

    def forget(self, tags: Iterable[str]) -> None:
        """Drop the memory of ``tags`` (removed from the device)."""
        for name in tags:
            self._last.pop(name, None)
            self._deadbands.pop(name, None)
