"""Sample quality, after OPC UA's status classes: GOOD, UNCERTAIN or BAD, with a reason.

A value is never blanked on communication loss: it stays, and its quality says how far to
trust it. Widgets draw the quality; calculated tags take the worst quality of their inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """How far a value can be trusted; higher is worse, so ``max`` gives the worst."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


class Reason(StrEnum):
    """Why a value is not simply GOOD (the OPC UA sub-status, in words)."""

    NONE = "none"
    #: no value has arrived yet since start-up
    WAITING_FOR_INITIAL_DATA = "waiting for initial data"
    #: communication lost; the last known value is kept
    LAST_KNOWN_VALUE = "last known value"
    NO_COMMUNICATION = "no communication"
    NOT_CONNECTED = "not connected"
    DEVICE_FAILURE = "device failure"
    CONFIG_ERROR = "configuration error"
    OUT_OF_SERVICE = "out of service"
    SENSOR_FAILURE = "sensor failure"
    #: value outside the tag's engineering range
    OUT_OF_RANGE = "out of range"
    #: a calculated tag inherits this from a non-GOOD input
    INPUT_QUALITY = "input quality"
    #: the node that published the tag went silent
    NODE_DEAD = "node dead"
    #: this node's broker went silent: the value is the last one heard before
    BROKER_LOST = "broker lost"


@dataclass(frozen=True, slots=True)
class Quality:
    """A severity, the reason for it, and optional free text (e.g. the device's error)."""

    severity: Severity = Severity.GOOD
    reason: Reason = Reason.NONE
    detail: str = ""

    @classmethod
    def good(cls) -> Quality:
        """The one GOOD quality (shared, so comparisons are cheap)."""
        return GOOD

    @classmethod
    def uncertain(cls, reason: Reason, detail: str = "") -> Quality:
        """An UNCERTAIN quality, e.g. the last known value after communication loss."""
        return cls(Severity.UNCERTAIN, reason, detail)

    @classmethod
    def bad(cls, reason: Reason, detail: str = "") -> Quality:
        """A BAD quality: the value must not be used for control."""
        return cls(Severity.BAD, reason, detail)

    @property
    def is_good(self) -> bool:
        """True when the value can be trusted."""
        return self.severity is Severity.GOOD

    def describe(self) -> str:
        """Operator-facing text, e.g. ``BAD: no communication (timeout after 0.5 s)``."""
        if self.severity is Severity.GOOD:
            return "GOOD"
        text = f"{self.severity.name}: {self.reason.value}"
        return f"{text} ({self.detail})" if self.detail else text

    @staticmethod
    def worst(qualities: list[Quality]) -> Quality:
        """The worst of several qualities (GOOD for none): what a calculated tag shows."""
        worst = GOOD
        for quality in qualities:
            if quality.severity > worst.severity:
                worst = quality
        return worst


GOOD = Quality()
#: the quality of a tag before its first value arrives
INITIAL = Quality(Severity.BAD, Reason.WAITING_FOR_INITIAL_DATA)
