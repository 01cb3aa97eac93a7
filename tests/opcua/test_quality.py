"""OPC UA StatusCode -> our quality (pure)."""

from __future__ import annotations

import pytest

from hmi.core.quality import GOOD, Quality, Reason, Severity
from hmi.drivers.opcua.items import code_quality, posix
from hmi.drivers.opcua.quality import severity_of, status_quality


@pytest.mark.parametrize(
    ("code", "severity", "reason"),
    [
        (0x80050000, Severity.BAD, Reason.NO_COMMUNICATION),  # BadCommunicationError
        (0x808A0000, Severity.BAD, Reason.NOT_CONNECTED),  # BadNotConnected
        (0x808C0000, Severity.BAD, Reason.SENSOR_FAILURE),  # BadSensorFailure
        (0x808B0000, Severity.BAD, Reason.DEVICE_FAILURE),  # BadDeviceFailure
        (0x808D0000, Severity.BAD, Reason.OUT_OF_SERVICE),  # BadOutOfService
        (0x80890000, Severity.BAD, Reason.CONFIG_ERROR),  # BadConfigurationError
        (0x80340000, Severity.BAD, Reason.CONFIG_ERROR),  # BadNodeIdUnknown
        (0x80320000, Severity.BAD, Reason.WAITING_FOR_INITIAL_DATA),
        (0x40900000, Severity.UNCERTAIN, Reason.LAST_KNOWN_VALUE),  # UncertainLastUsableValue
        (0x408F0000, Severity.UNCERTAIN, Reason.LAST_KNOWN_VALUE),
        (0x40940000, Severity.UNCERTAIN, Reason.OUT_OF_RANGE),  # EngineeringUnitsExceeded
        (0x40930000, Severity.UNCERTAIN, Reason.SENSOR_FAILURE),  # SensorNotAccurate
        (0x80AB0000, Severity.BAD, Reason.DEVICE_FAILURE),  # any other bad code
        (0x40A40000, Severity.UNCERTAIN, Reason.SENSOR_FAILURE),  # any other uncertain one
    ],
)
def test_status_codes_map_to_a_severity_and_a_reason(
    code: int, severity: Severity, reason: Reason
) -> None:
    quality = status_quality(code, "plc: Name")
    assert (quality.severity, quality.reason, quality.detail) == (severity, reason, "plc: Name")


def test_good_codes_with_info_bits_are_good() -> None:
    assert status_quality(0x00000000) is GOOD
    assert status_quality(0x00000400) is GOOD  # Good with an info bit (overflow)
    assert severity_of(0xC0000000) is Severity.BAD  # the reserved class counts as bad


def test_names_come_from_the_code_table() -> None:
    assert code_quality(0x808C0000, "plc") == Quality.bad(
        Reason.SENSOR_FAILURE, "plc: BadSensorFailure"
    )
    assert code_quality(0, "plc") is GOOD


def test_timestamps_are_posix_seconds_and_none_is_none() -> None:
    import datetime as dt

    aware = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    naive = dt.datetime(2026, 1, 2, 3, 4, 5)  # asyncua's may come without a zone: UTC
    assert posix(aware) == posix(naive) == aware.timestamp()
    assert posix(None) == 0.0
    assert posix(dt.datetime(1601, 1, 1, tzinfo=dt.UTC)) == 0.0  # OPC UA's "none"
