"""Poll planning: a device's points -> the fewest read requests, and responses -> samples.

Pure: no I/O, time passed in. A :class:`Block` is one read request (one table, one
contiguous range of at most 125 registers or 2,000 bits). :func:`plan_blocks` merges
points of one table whose gap is small (reading a few unused registers is cheaper than
another round trip); :func:`split_block` halves a block that the device refused so the
driver can isolate the points that cause the exception and keep the others GOOD.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hmi.core.address import Table
from hmi.core.modbus.codec import Point
from hmi.core.modbus.decoder import BlockDecoder, ResponseError, decode_reference
from hmi.core.quality import Quality
from hmi.core.sample import Sample

__all__ = [
    "MAX_BITS",
    "MAX_REGISTERS",
    "Block",
    "ResponseError",
    "decode_block",
    "decode_block_reference",
    "failed_samples",
    "plan_blocks",
    "split_block",
]

#: protocol limits of one read (Modbus application protocol, 6.1-6.4)
MAX_REGISTERS = 125
MAX_BITS = 2000
#: unused registers (bits) read rather than paying another round trip
DEFAULT_REGISTER_GAP = 16
DEFAULT_BIT_GAP = 64


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` registers (or bits) of ``table`` from ``start``."""

    table: Table
    start: int
    count: int
    points: tuple[Point, ...]
    #: the tag names of ``points`` (computed once: the driver needs them every scan)
    names: tuple[str, ...] = field(default=(), compare=False, repr=False)
    #: the block's decoder, compiled once here (at plan time, and for each split half)
    decoder: BlockDecoder = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.names:
            object.__setattr__(self, "names", tuple(p.tag for p in self.points))
        object.__setattr__(
            self,
            "decoder",
            BlockDecoder(str(self), self.table, self.start, self.count, self.points),
        )

    @property
    def end(self) -> int:
        """One past the last register (or bit) read."""
        return self.start + self.count

    @property
    def tags(self) -> list[str]:
        """Names of the tags this block feeds."""
        return [p.tag for p in self.points]

    def __str__(self) -> str:
        return f"{self.table.value}:{self.start}+{self.count}"


def plan_blocks(
    points: Iterable[Point],
    *,
    max_registers: int = MAX_REGISTERS,
    max_bits: int = MAX_BITS,
    register_gap: int = DEFAULT_REGISTER_GAP,
    bit_gap: int = DEFAULT_BIT_GAP,
) -> list[Block]:
    """Group ``points`` (one poll group of one device) into the fewest blocks.

    Points are sorted by table and offset; a point joins the current block when the
    gap to it is at most ``register_gap`` (``bit_gap``) and the block stays within the
    size limit. Overlapping points (bits of one register, a register read as two types)
    share the block. A point larger than the limit gets a block of its own.
    """
    blocks: list[Block] = []
    ordered = sorted(points, key=lambda p: (p.table.value, p.start, p.end, p.tag))
    current: list[Point] = []
    start = end = 0
    for point in ordered:
        bits = point.table.is_bits
        limit, gap = (max_bits, bit_gap) if bits else (max_registers, register_gap)
        if current and (
            point.table is current[0].table
            and point.start - end <= gap
            and max(end, point.end) - start <= limit
        ):
            current.append(point)
            end = max(end, point.end)
            continue
        if current:
            blocks.append(Block(current[0].table, start, end - start, tuple(current)))
        current, start, end = [point], point.start, point.end
    if current:
        blocks.append(Block(current[0].table, start, end - start, tuple(current)))
    return blocks


def split_block(block: Block) -> tuple[Block, Block] | None:
    """Halve a refused block by its points (None when it holds a single position).

    The driver reads both halves; repeating this isolates the points the device
    refuses in O(log n) extra requests, and the halves stay in the plan so the next
    scans do not pay the search again.
    """
    points = sorted(block.points, key=lambda p: (p.start, p.end))
    if len({(p.start, p.end) for p in points}) < 2:
        return None
    middle = len(points) // 2
    # Points sharing a position stay together: the device refuses them together.
    while 0 < middle < len(points) and points[middle].start < points[middle - 1].end:
        middle += 1
    if middle >= len(points):
        middle = len(points) // 2
        while middle > 0 and points[middle].start < points[middle - 1].end:
            middle -= 1
    if middle == 0:
        return None
    halves = []
    for part in (points[:middle], points[middle:]):
        start = min(p.start for p in part)
        end = max(p.end for p in part)
        halves.append(Block(block.table, start, end - start, tuple(part)))
    return halves[0], halves[1]


def decode_block(
    block: Block, data: Sequence[int] | Sequence[bool], now: float
) -> dict[str, Sample]:
    """Samples for every point of ``block`` from the read ``data`` (registers or bits).

    Raises :class:`ResponseError` when ``data`` does not fit the request: the whole
    response is suspect then. A point whose value cannot be decoded (e.g. a float that
    is NaN) is BAD on its own. Runs the block's compiled decoder (:mod:`.decoder`).
    """
    return block.decoder.decode(data, now)


def decode_block_reference(
    block: Block, data: Sequence[int] | Sequence[bool], now: float
) -> dict[str, Sample]:
    """What :func:`decode_block` returns, decoded point by point (the definition)."""
    return decode_reference(
        str(block),
        table=block.table,
        start=block.start,
        count=block.count,
        points=block.points,
        data=data,
        now=now,
    )


def failed_samples(
    tags: Iterable[str], quality: Quality, previous: dict[str, Sample], now: float
) -> dict[str, Sample]:
    """Samples that keep each tag's last value but carry ``quality`` (never blanked)."""
    return {
        name: (
            previous[name].degraded(quality, now)
            if name in previous
            else Sample(None, quality, now, now)
        )
        for name in tags
    }
