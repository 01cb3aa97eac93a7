"""A sample: one value of a tag, with its quality and two timestamps."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hmi.core.quality import GOOD, INITIAL, Quality

#: the Python types a tag value may take
Value = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class Sample:
    """``(value, quality, source_time, receive_time)``; times are POSIX seconds.

    ``source_time`` is when the device (or calculation) produced the value; trends plot
    against it. ``receive_time`` is when this node received it; latency is the difference.
    """

    value: Value
    quality: Quality = GOOD
    source_time: float = 0.0
    receive_time: float = 0.0

    def degraded(self, quality: Quality, now: float) -> Sample:
        """The same value with a worse quality, e.g. after communication loss.

        The value is never blanked; only its quality and receive time change.
        """
        return replace(self, quality=quality, receive_time=now)


#: the sample of a tag that has never had a value
NO_SAMPLE = Sample(None, INITIAL, 0.0, 0.0)
