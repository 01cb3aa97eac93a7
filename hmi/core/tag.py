"""Tag definitions: what a point of the plant is, independent of where its value comes from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from hmi.core.address import Address

#: ``area/device/point``: two or more segments of letters, digits, ``_``, ``-`` and ``.``
TAG_NAME = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)+$")


class DataType(StrEnum):
    """The engineering data type of a tag (what widgets and the alarm engine see)."""

    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"

    @property
    def is_numeric(self) -> bool:
        """True for the integer and floating-point types."""
        return self not in (DataType.BOOL, DataType.STRING)

    @property
    def register_count(self) -> int:
        """16-bit registers one value occupies (strings: per-tag ``length``)."""
        return _REGISTERS.get(self, 1)


_REGISTERS = {
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT64: 4,
}


@dataclass(frozen=True, slots=True)
class Scaling:
    """Linear scaling from raw device units to engineering units."""

    raw_min: float = 0.0
    raw_max: float = 1.0
    eng_min: float = 0.0
    eng_max: float = 1.0

    def __post_init__(self) -> None:
        if self.raw_min == self.raw_max:
            raise ValueError("raw_min and raw_max must differ")

    def to_eng(self, raw: float) -> float:
        """Raw device value -> engineering units."""
        span = (self.eng_max - self.eng_min) / (self.raw_max - self.raw_min)
        return self.eng_min + (raw - self.raw_min) * span

    def to_raw(self, eng: float) -> float:
        """Engineering units -> raw device value (for writes)."""
        span = (self.raw_max - self.raw_min) / (self.eng_max - self.eng_min)
        return self.raw_min + (eng - self.eng_min) * span


@dataclass(frozen=True, slots=True)
class Limits:
    """The engineering range of a tag: displays scale to it, writes outside it are rejected."""

    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")

    def contains(self, value: float) -> bool:
        """True when ``value`` lies within the limits (inclusive)."""
        if self.low is not None and value < self.low:
            return False
        return not (self.high is not None and value > self.high)


class BadQualityPolicy(StrEnum):
    """What a BAD input does to an alarm. Never 'clear it': that would hide a real alarm."""

    #: keep the condition as it was and mark the alarm ``input_bad`` (no new annunciation)
    HOLD = "hold"
    #: a BAD input is an alarm condition itself (level BAD), e.g. for safety-relevant tags
    ALARM = "alarm"


@dataclass(frozen=True, slots=True)
class AlarmLimits:
    """Analog alarm limits of a tag; the alarm engine of hmi.services evaluates them."""

    lolo: float | None = None
    lo: float | None = None
    hi: float | None = None
    hihi: float | None = None
    #: discrete alarm: active while the value equals this state
    state: bool | int | float | str | None = None
    deadband: float = 0.0
    priority: int = 3
    on_delay: float = 0.0
    off_delay: float = 0.0
    message: str = ""
    #: suppression by design: an expression over other tags (``not {area1/p101/running}``)
    #: that hides the alarm while true
    suppress_when: str | None = None
    bad_quality: BadQualityPolicy = BadQualityPolicy.HOLD

    def __post_init__(self) -> None:
        ordered = [v for v in (self.lolo, self.lo, self.hi, self.hihi) if v is not None]
        if ordered != sorted(ordered):
            raise ValueError("alarm limits must satisfy lolo <= lo <= hi <= hihi")
        if not 1 <= self.priority <= 4:
            raise ValueError(f"priority must be 1..4, not {self.priority}")
        if self.deadband < 0 or self.on_delay < 0 or self.off_delay < 0:
            raise ValueError("deadband and delays must not be negative")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a tag's value comes from on a device (``device`` + address)."""

    device: str
    address: Address
    poll_group: str = "normal"
    byte_order: str = "big"
    word_order: str = "big"
    #: registers of a string tag
    length: int = 1
    #: publish only changes larger than this (engineering units)
    deadband: float = 0.0
    #: seconds a write is watched after its read-back before it counts as confirmed (the
    #: device's logic may override it: a controller in AUTO, an interlock); 0: only the
    #: read-back (a pulse the device clears itself); None: the device's, else the default
    settle: float | None = None


@dataclass(frozen=True, slots=True)
class Tag:
    """A plant point: ``area/device/point`` with type, unit, scaling, limits and rights.

    A tag gets its value from a device (``source``), from an expression over other tags
    (``expression``), or from neither (a memory tag, written by operators or scripts).
    """

    name: str
    data_type: DataType = DataType.FLOAT64
    unit: str = ""
    description: str = ""
    scaling: Scaling | None = None
    limits: Limits = field(default_factory=Limits)
    alarms: AlarmLimits | None = None
    write_roles: frozenset[str] = frozenset()
    source: Source | None = None
    expression: str | None = None
    #: display format, Python format spec such as ``.2f``
    format: str = ""

    def __post_init__(self) -> None:
        if not TAG_NAME.match(self.name):
            raise ValueError(f"tag name {self.name!r} is not of the form area/device/point")
        if self.source is not None and self.expression is not None:
            raise ValueError("a tag has either a device source or an expression, not both")

    @property
    def writable(self) -> bool:
        """True when at least one role may write this tag."""
        return bool(self.write_roles)

    def may_write(self, roles: frozenset[str] | set[str]) -> bool:
        """True when any of ``roles`` is among the tag's write roles."""
        return not self.write_roles.isdisjoint(roles)
