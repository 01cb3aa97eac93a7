"""The polling state of one device on a line: its plan, what it last read and published.

A device's tags become poll groups of planned reads (:func:`hmi.core.modbus.plan_blocks`).
Each :class:`BlockRead` remembers when its block was last answered (the freshness the
watchdog needs, kept per block rather than per tag: one store per request, not 125) and
the raw data of that answer (an unchanged block is not decoded again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from hmi.core.modbus import Block, ChangeFilter, Point, plan_blocks, split_block
from hmi.core.quality import Quality, Reason, Severity
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.drivers.status import DeviceStats
from hmi.project.model import DeviceConfig

#: the reasons of a loss of communication (a device's refusal or a wrong answer is not one)
_COMM_LOSS = frozenset({Reason.LAST_KNOWN_VALUE, Reason.NO_COMMUNICATION, Reason.NOT_CONNECTED})


@dataclass(eq=False, slots=True)
class BlockRead:
    """One planned read request and what its last good answer was."""

    block: Block
    #: monotonic time of the last good answer (0.0: never answered)
    last_ok: float = 0.0
    #: the registers (bits) of that answer
    data: list[int] | list[bool] | None = None

    def split(self) -> tuple[BlockRead, BlockRead] | None:
        """Halves of a refused read (see :func:`split_block`); they inherit the freshness."""
        halves = split_block(self.block)
        if halves is None:
            return None
        return BlockRead(halves[0], self.last_ok), BlockRead(halves[1], self.last_ok)


@dataclass(eq=False)
class PollGroup:
    """The reads of one device in one poll group, and when they are due next."""

    name: str
    period: float
    reads: list[BlockRead]
    tags: list[str]
    #: monotonic time of the next scan
    next_due: float = 0.0
    #: the watchdog's pending staleness check
    timer: asyncio.TimerHandle | None = None

    def freshness(self, default: float) -> Iterator[tuple[str, float]]:
        """``(tag, last good answer)`` of every tag; ``default`` for never answered."""
        for read in self.reads:
            since = read.last_ok or default
            for name in read.block.names:
                yield name, since

    def disarm(self) -> None:
        """Cancel the pending staleness check."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


@dataclass(eq=False)
class DeviceState:
    """One device of a line: configuration, plan, statistics and last published samples."""

    config: DeviceConfig
    stats: DeviceStats
    points: dict[str, Point] = field(default_factory=dict)
    groups: dict[str, PollGroup] = field(default_factory=dict)
    filter: ChangeFilter = field(default_factory=ChangeFilter)
    #: set when the device leaves its line: a scan in flight must not publish any more
    removed: bool = False
    #: scans in a row that got no answer while the line itself was up
    misses: int = 0
    #: monotonic time the read in flight was sent (0.0: none)
    asking: float = 0.0

    @property
    def name(self) -> str:
        """The device's name."""
        return self.config.name

    @property
    def last(self) -> Mapping[str, Sample]:
        """The last published sample of every tag."""
        return self.filter.last

    def plan(
        self, config: DeviceConfig, tags: Iterable[Tag], poll_groups: Mapping[str, float]
    ) -> list[str]:
        """Take a (new) configuration and tag set; returns the tags it no longer has."""
        points = {t.name: Point.from_tag(t) for t in tags if t.source is not None}
        # Re-planned blocks keep the freshness of their tags: a runtime change of the
        # tag set must not look like a loss of communication to the watchdog.
        fresh = {n: t for g in self.groups.values() for n, t in g.freshness(0.0) if t}
        groups: dict[str, PollGroup] = {}
        for name in sorted({p.poll_group for p in points.values()}):
            members = [p for p in points.values() if p.poll_group == name]
            reads = [
                BlockRead(block, min((fresh[n] for n in block.names if n in fresh), default=0.0))
                for block in plan_blocks(members)
            ]
            groups[name] = PollGroup(
                name, poll_groups.get(name, 1.0), reads, [p.tag for p in members]
            )
        removed = [name for name in self.points if name not in points]
        for group in self.groups.values():
            group.disarm()
        self.config, self.points, self.groups = config, points, groups
        self.filter.forget(removed)
        for point in points.values():
            self.filter.set_deadband(point.tag, point.deadband)
        return removed

    def postpone(self, until: float) -> None:
        """Scan none of the device's groups before ``until`` (a silent unit on a shared line)."""
        for group in self.groups.values():
            group.next_due = max(group.next_due, until)

    def forget_data(self) -> None:
        """Make the next good answer of every block be decoded and published again."""
        for group in self.groups.values():
            for read in group.reads:
                read.data = None

    def forget_data_of(self, tag: str) -> None:
        """Make the next good answer of the block holding ``tag`` be decoded again (its
        last answer predates a write to it)."""
        point = self.points.get(tag)
        group = self.groups.get(point.poll_group) if point is not None else None
        for read in group.reads if group is not None else ():
            if tag in read.block.names:
                read.data = None

    def degrade(
        self, tags: Iterable[str], detail: str, never_read: Reason, now: float
    ) -> dict[str, Sample]:
        """Samples (not yet filtered) that degrade ``tags`` after a failure.

        GOOD values become UNCERTAIN (last known value, kept); tags without a value
        yet become BAD ``never_read``; UNCERTAIN and BAD ones keep their severity (the
        watchdog turns them BAD in time), but take ``detail`` when they were degraded by
        a loss of communication with another one: each outage says its own cause. The
        watchdog degrades a silent device's tags before its request fails ("no
        answer"), and without this the failure's real cause would never reach them.
        """
        self.forget_data()
        last = self.filter.last
        samples: dict[str, Sample] = {}
        for name in tags:
            previous = last.get(name)
            if previous is None:
                samples[name] = Sample(None, Quality.bad(never_read, detail), now, now)
                continue
            quality = previous.quality
            if quality.severity is Severity.GOOD:
                lkv = Quality.uncertain(Reason.LAST_KNOWN_VALUE, detail)
                samples[name] = previous.degraded(lkv, now)
            elif quality.reason is Reason.WAITING_FOR_INITIAL_DATA:
                samples[name] = Sample(None, Quality.bad(never_read, detail), now, now)
            elif quality.reason in _COMM_LOSS and quality.detail != detail:
                again = Quality(quality.severity, quality.reason, detail)
                samples[name] = previous.degraded(again, now)
            elif quality.reason is Reason.DEVICE_FAILURE:
                # a wrong answer (or a device failure) before, and now no answer at all
                samples[name] = previous.degraded(Quality.bad(never_read, detail), now)
        return samples

    def refused(self, read: BlockRead, quality: Quality, now: float) -> dict[str, Sample]:
        """Samples for a block the device refused: BAD ``quality``, values kept."""
        read.data = None
        last = self.filter.last
        samples: dict[str, Sample] = {}
        for name in read.block.names:
            old = last.get(name)
            samples[name] = old.degraded(quality, now) if old else Sample(None, quality, now, now)
        return samples
