from __future__ import annotations

import pytest

from hmi.core.quality import GOOD, INITIAL, Quality, Reason, Severity
from hmi.core.sample import NO_SAMPLE, Sample


def test_quality_classes_carry_a_reason_and_describe_themselves():
    lost = Quality.uncertain(Reason.LAST_KNOWN_VALUE, "plc1 timeout")
    dead = Quality.bad(Reason.NO_COMMUNICATION)
    assert Quality.good().is_good and Quality.good().describe() == "GOOD"
    assert not lost.is_good
    assert lost.describe() == "UNCERTAIN: last known value (plc1 timeout)"
    assert dead.describe() == "BAD: no communication"


def test_worst_quality_wins():
    lost = Quality.uncertain(Reason.LAST_KNOWN_VALUE)
    dead = Quality.bad(Reason.DEVICE_FAILURE)
    assert Quality.worst([GOOD, lost, GOOD]) is lost
    assert Quality.worst([lost, dead, GOOD]) is dead
    assert Quality.worst([]) is GOOD
    assert max(Severity) is Severity.BAD


def test_degraded_sample_keeps_its_value():
    sample = Sample(2.5, GOOD, source_time=100.0, receive_time=100.1)
    lost = sample.degraded(Quality.uncertain(Reason.LAST_KNOWN_VALUE), now=103.0)
    assert lost.value == 2.5
    assert lost.source_time == 100.0
    assert lost.receive_time == 103.0
    assert lost.quality.severity is Severity.UNCERTAIN


def test_no_sample_is_bad_waiting_for_data():
    assert NO_SAMPLE.value is None
    assert NO_SAMPLE.quality is INITIAL
    assert INITIAL.severity is Severity.BAD


def test_samples_are_immutable():
    sample = Sample(1)
    with pytest.raises(AttributeError):
        sample.value = 2  # type: ignore[misc]


def test_broker_lost_is_a_reason_with_its_documented_text():
    lost = Quality.uncertain(Reason.BROKER_LOST, "broker tcp://10.0.0.1:5570 silent")
    assert Reason("broker lost") is Reason.BROKER_LOST
    assert lost.describe() == "UNCERTAIN: broker lost (broker tcp://10.0.0.1:5570 silent)"
