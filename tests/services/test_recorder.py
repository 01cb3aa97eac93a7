"""Store on change with deadband and maximum interval."""

from __future__ import annotations

from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample
from hmi.services.recorder import ChangeRecorder


def s(value: object, t: float, bad: bool = False) -> Sample:
    quality = Quality.bad(Reason.NO_COMMUNICATION) if bad else Quality.good()
    return Sample(value, quality, t, t)  # type: ignore[arg-type]


def test_deadband_and_max_interval() -> None:
    rec = ChangeRecorder(max_interval=10.0, deadbands={"a/b/x": 0.5})
    kept = [rec.offer("a/b/x", s(v, t)) for t, v in [(0, 1.0), (1, 1.4), (2, 1.6), (3, 1.2)]]
    assert kept == [True, False, True, False]
    assert rec.offer("a/b/x", s(1.2, 12.0))  # unchanged, but 10 s since the last row
    assert [r[1] for r in rec.take()] == [0, 2, 12.0]
    assert rec.pending == 0


def test_any_change_without_deadband_and_for_non_numbers() -> None:
    rec = ChangeRecorder()
    assert [rec.offer("a/b/x", s(v, i)) for i, v in enumerate([1, 1, 2, 2])] == [
        True,
        False,
        True,
        False,
    ]
    assert [rec.offer("a/b/s", s(v, i)) for i, v in enumerate(["A", "A", "B"])] == [
        True,
        False,
        True,
    ]
    assert [rec.offer("a/b/b", s(v, i)) for i, v in enumerate([False, False, True])] == [
        True,
        False,
        True,
    ]


def test_quality_changes_are_always_kept() -> None:
    rec = ChangeRecorder(deadbands={"a/b/x": 100.0})
    rec.offer("a/b/x", s(1.0, 0))
    assert rec.offer("a/b/x", s(1.0, 1, bad=True))
    assert rec.offer("a/b/x", s(1.0, 2))
    assert [r[3] for r in rec.take()] == [0, 2, 0]


def test_heartbeat_writes_silent_tags_at_the_maximum_interval() -> None:
    rec = ChangeRecorder(max_interval=60.0)
    rec.offer("a/b/x", s(5.0, 0))
    rec.offer("a/b/x", s(5.0, 30))  # unchanged: not stored, but remembered
    rec.take()
    assert rec.heartbeat(59.0) == 0
    assert rec.heartbeat(60.0) == 1
    assert rec.take() == [("a/b/x", 60.0, 5.0, 0)]
    assert rec.offered == 2 and rec.kept == 2


def test_out_of_order_samples_do_not_rewrite_history() -> None:
    rec = ChangeRecorder()
    rec.offer("a/b/x", s(1.0, 10))
    assert not rec.offer("a/b/x", s(2.0, 5))


def test_heartbeat_rows_stay_in_the_source_timebase() -> None:
    """A device whose clock is 1000 s behind: heartbeat rows follow its clock, not ours."""
    rec = ChangeRecorder(max_interval=60.0)
    rec.offer("a/b/x", Sample(5.0, Quality.good(), 10.0, 1010.0))
    rec.take()
    assert rec.heartbeat(1069.0) == 0
    assert rec.heartbeat(1070.0) == 1
    assert rec.take() == [("a/b/x", 70.0, 5.0, 0)]
    assert rec.offer("a/b/x", Sample(6.0, Quality.good(), 71.0, 1071.0))


def test_a_full_buffer_refuses_rows_and_retries_the_tag_later() -> None:
    rec = ChangeRecorder(max_pending=2)
    assert rec.offer("a/b/x", s(1.0, 0)) and rec.offer("a/b/y", s(1.0, 0))
    assert not rec.offer("a/b/z", s(1.0, 0))
    assert not rec.offer("a/b/x", s(2.0, 1))
    assert rec.overflow == 2
    rec.take()
    assert rec.offer("a/b/x", s(2.0, 2))  # still a change: stored once there is room


def test_a_comm_loss_is_stored_when_the_tag_went_bad_not_at_its_last_sample() -> None:
    """The driver republishes the last value as BAD with its old source time (issue 14,
    item 4): the row is stamped when the quality changed, after any heartbeat row, in the
    source's timebase (this device's clock is 1000 s behind ours)."""
    rec = ChangeRecorder(max_interval=60.0)
    good = Sample(3.2, Quality.good(), 10.0, 1010.0)
    rec.offer("a/b/sp", good)
    assert rec.heartbeat(1110.0) == 1  # a row at source time 110
    lost = good.degraded(Quality.bad(Reason.NO_COMMUNICATION), 1140.0)
    assert rec.offer("a/b/sp", lost)
    assert rec.take()[-1] == ("a/b/sp", 140.0, 3.2, int(lost.quality.severity))
    # a second copy of the same BAD sample is not a new row
    assert not rec.offer("a/b/sp", good.degraded(Quality.bad(Reason.NO_COMMUNICATION), 1141.0))


def test_uncertain_then_bad_republishes_are_both_stored_in_order() -> None:
    """A comm loss republishes the held value twice with its old source time: UNCERTAIN
    at the first failed scan (2 s after the read), BAD from the watchdog 1 s later. Each
    is stamped by the time since the value was read, so the BAD row follows the UNCERTAIN
    one and is kept (it was taken for a late row and dropped: a trend held the last value
    straight across the outage, with no gap)."""
    rec = ChangeRecorder(max_interval=60.0)
    good = Sample(2.5, Quality.good(), 10.0, 1010.0)
    assert rec.offer("a/t/level", good)
    uncertain = good.degraded(Quality.uncertain(Reason.NO_COMMUNICATION), 1012.0)
    bad = good.degraded(Quality.bad(Reason.NO_COMMUNICATION), 1013.0)
    assert rec.offer("a/t/level", uncertain)
    assert rec.offer("a/t/level", bad)
    rows = rec.take()
    assert [(t, severity) for _, t, _, severity in rows] == [
        (10.0, int(good.quality.severity)),
        (12.0, int(uncertain.quality.severity)),
        (13.0, int(bad.quality.severity)),
    ]
    # a heartbeat of the held value is stamped the same way: 60 s after the BAD row
    assert rec.heartbeat(1072.0) == 0
    assert rec.heartbeat(1073.0) == 1
    assert rec.take()[-1][1] == 73.0
