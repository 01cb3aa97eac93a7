"""What the historian keeps: samples on change (with a deadband) and at a maximum interval.

Pure bookkeeping, no I/O: :class:`ChangeRecorder` decides per sample whether it is worth a
row and buffers the rows until the historian flushes them in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hmi.core.sample import Sample, Value
from hmi.services.history_store import Row


@dataclass(slots=True)
class _Last:
    """The last stored row of a tag, and the latest sample seen (stored or not)."""

    value: Value
    severity: int
    stored_at: float
    latest: Sample
    #: when the first sample with ``latest``'s source time was received: the driver's
    #: republishes of a held value (UNCERTAIN, then BAD) keep that source time, and
    #: their rows are stamped by the time since this one
    received: float


class ChangeRecorder:
    """Store-on-change filter and write buffer for many tags.

    A sample is kept when it is the tag's first, its quality severity changed, its value
    moved by more than the tag's deadband (any change for non-numbers and deadband 0), or
    ``max_interval`` passed since the tag's last row. :meth:`heartbeat` also writes the
    latest value of tags that stayed silent that long, so "unchanged" and "no data" differ.
    """

    def __init__(
        self,
        max_interval: float = 60.0,
        deadbands: Mapping[str, float] | None = None,
        default_deadband: float = 0.0,
        max_pending: int = 1_000_000,
    ) -> None:
        self.max_interval = max_interval
        self.deadbands = dict(deadbands or {})
        self.default_deadband = default_deadband
        self._last: dict[str, _Last] = {}
        self._rows: list[Row] = []
        #: the buffer's bound: past it, rows are refused and counted (memory stays bounded
        #: when the disk cannot keep up; the tag is retried with its next sample)
        self.max_pending = max_pending
        #: samples offered / rows kept / rows refused because the buffer was full
        self.offered = 0
        self.kept = 0
        self.overflow = 0

    def offer(self, name: str, sample: Sample) -> bool:
        """Consider one sample; True when it was buffered for storage."""
        self.offered += 1
        t = sample.source_time or sample.receive_time
        value = sample.value
        severity = int(sample.quality.severity)
        last = self._last.get(name)
        if last is not None:
            if sample.source_time and sample.source_time == last.latest.source_time:
                if sample.receive_time > last.received and severity != int(
                    last.latest.quality.severity
                ):
                    # A degraded republish (a comm loss keeps the last value and its
                    # source time): the quality changed now, not when the value was
                    # read. Stamped in the source's timebase, as heartbeat rows are, by
                    # the time since the value was first received (UNCERTAIN then BAD
                    # are two republishes of one value), so a held trend line ends when
                    # the tag went BAD and the row is not taken for a late one.
                    t = sample.source_time + (sample.receive_time - last.received)
            else:
                last.received = sample.receive_time
            last.latest = sample
        if len(self._rows) >= self.max_pending:
            self.overflow += 1
            return False
        if last is not None:
            if (
                severity == last.severity
                and t - last.stored_at < self.max_interval
                and not self._changed(name, last.value, value)
            ):
                return False
            if t < last.stored_at:  # out of order (a late batch): keep the newer row
                return False
            last.value, last.severity, last.stored_at = value, severity, t
        else:
            self._last[name] = _Last(value, severity, t, sample, sample.receive_time)
        self._rows.append((name, t, value, severity))
        self.kept += 1
        return True

    def offer_batch(self, batch: Mapping[str, Sample]) -> int:
        """Consider a batch; returns how many rows it added."""
        offer = self.offer
        return sum(1 for name, sample in batch.items() if offer(name, sample))

    def _changed(self, name: str, old: Value, new: Value) -> bool:
        if (
            isinstance(old, int | float)
            and isinstance(new, int | float)
            and not isinstance(old, bool)
            and not isinstance(new, bool)
        ):
            deadband = self.deadbands.get(name, self.default_deadband)
            return abs(new - old) > deadband if deadband > 0 else new != old
        return bool(old != new)

    def heartbeat(self, now: float) -> int:
        """Re-store the latest value of tags without a row for ``max_interval``.

        ``now`` is this node's clock; the row is stamped in the source's timebase (its
        latest source time plus the time since it was received), so a device whose clock
        is off does not get rows from two timebases interleaved.
        """
        added = 0
        for name, last in self._last.items():
            latest = last.latest
            source = latest.source_time or latest.receive_time
            t = source + (now - last.received) if last.received else now
            if t - last.stored_at >= self.max_interval:
                severity = int(latest.quality.severity)
                last.value, last.severity, last.stored_at = latest.value, severity, t
                self._rows.append((name, t, latest.value, severity))
                added += 1
        self.kept += added
        return added

    def take(self) -> list[Row]:
        """The buffered rows, oldest first, and clear the buffer (the historian flushes them)."""
        rows, self._rows = self._rows, []
        return rows

    @property
    def pending(self) -> int:
        """Rows buffered, not yet taken."""
        return len(self._rows)
