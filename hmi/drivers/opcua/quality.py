"""OPC UA StatusCode -> our quality: GOOD, UNCERTAIN or BAD, with the reason in words.

The severity is the code's top two bits (Part 4, 7.39: 00 good, 01 uncertain, 10 and 11
bad); the reason is our :class:`~hmi.core.quality.Reason` closest to its sub-code, and the
detail the code's name (``BadSensorFailure``), so an operator can look it up. Pure: the
name comes from the caller (asyncua's table), the mapping is ours.
"""

from __future__ import annotations

from functools import lru_cache

from hmi.core.quality import GOOD, Quality, Reason, Severity

#: sub-codes (the upper 16 bits) with a reason of their own
_REASONS: dict[int, Reason] = {
    0x8005: Reason.NO_COMMUNICATION,  # BadCommunicationError
    0x8031: Reason.NO_COMMUNICATION,  # BadNoCommunication
    0x808A: Reason.NOT_CONNECTED,  # BadNotConnected
    0x8032: Reason.WAITING_FOR_INITIAL_DATA,  # BadWaitingForInitialData
    0x8089: Reason.CONFIG_ERROR,  # BadConfigurationError
    0x8033: Reason.CONFIG_ERROR,  # BadNodeIdInvalid
    0x8034: Reason.CONFIG_ERROR,  # BadNodeIdUnknown
    0x8035: Reason.CONFIG_ERROR,  # BadAttributeIdInvalid
    0x8074: Reason.CONFIG_ERROR,  # BadTypeMismatch
    0x808B: Reason.DEVICE_FAILURE,  # BadDeviceFailure
    0x808C: Reason.SENSOR_FAILURE,  # BadSensorFailure
    0x808D: Reason.OUT_OF_SERVICE,  # BadOutOfService
    0x408F: Reason.LAST_KNOWN_VALUE,  # UncertainNoCommunicationLastUsableValue
    0x4090: Reason.LAST_KNOWN_VALUE,  # UncertainLastUsableValue
    0x4093: Reason.SENSOR_FAILURE,  # UncertainSensorNotAccurate
    0x4094: Reason.OUT_OF_RANGE,  # UncertainEngineeringUnitsExceeded
    0x40F2: Reason.OUT_OF_RANGE,  # UncertainOverRange
    0x40F3: Reason.OUT_OF_RANGE,  # UncertainUnderRange
    0x420F: Reason.CONFIG_ERROR,  # UncertainConfigurationError
}


def severity_of(code: int) -> Severity:
    """The class of a StatusCode: its top two bits."""
    top = (code >> 30) & 0b11
    if top == 0:
        return Severity.GOOD
    return Severity.UNCERTAIN if top == 1 else Severity.BAD


@lru_cache(maxsize=512)
def status_quality(code: int, name: str = "") -> Quality:
    """The quality of a value with StatusCode ``code`` (named ``name``).

    A GOOD code is our one GOOD quality, whatever its info bits (overflow, limits): the
    value is usable. A code we have no reason for is BAD ``device failure`` or
    UNCERTAIN ``sensor failure`` ("the server says so"), with its name.
    """
    severity = severity_of(code)
    if severity is Severity.GOOD:
        return GOOD
    reason = _REASONS.get(code >> 16)
    if reason is None:
        reason = Reason.DEVICE_FAILURE if severity is Severity.BAD else Reason.SENSOR_FAILURE
    return Quality(severity, reason, name or f"0x{code:08X}")
