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
        # The rule is differs() and a quality comparison; this loop only avoids calling
        # them for the common cases (the same GOOD object; values plainly equal or not),
        # which was half of the cost of a scan whose values all change.
        out: dict[str, Sample] = {}
        last, deadbands = self._last, self._deadbands
        for name, sample in samples.items():
            previous = last.get(name)
            if previous is not None:
                quality = previous.quality
                if quality is sample.quality or quality == sample.quality:
                    old, new = previous.value, sample.value
                    deadband = deadbands.get(name) if deadbands else None
                    if deadband is not None:
                        if not differs(old, new, deadband):
                            continue
                    # Only NaN is unequal to itself: two NaNs are no change (differs).
                    elif old == new or (
                        old != old and new != new and not differs(old, new, 0)  # noqa: PLR0124
                    ):
                        continue
            out[name] = sample
            last[name] = sample
        return out

    def forget(self, tags: Iterable[str]) -> None:
        """Drop the memory of ``tags`` (removed from the device)."""
        for name in tags:
            self._last.pop(name, None)
            self._deadbands.pop(name, None)
