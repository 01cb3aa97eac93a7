"""The alarm journal: append, query, latest status per tag, CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hmi.core.alarms import Alarm, AlarmState
from hmi.core.sample import Sample
from hmi.core.tag import AlarmLimits
from hmi.services.alarm_journal import CSV_COLUMNS, AlarmJournal


def test_every_transition_is_kept_and_comes_back(tmp_path: Path) -> None:
    alarm = Alarm("a/b/x", AlarmLimits(hi=10.0, message="x high"))
    transitions = alarm.update(Sample(20.0), 1.0)
    transitions += alarm.acknowledge("alice", 2.0, "on it")
    transitions += alarm.shelve("alice", "sensor work", 100.0, 3.0)
    with AlarmJournal(tmp_path / "alarms.sqlite") as journal:
        assert journal.write(transitions) == 3
        back = journal.query()
        assert back == transitions
        assert [t.event.value for t in journal.query(since=2.0, tag="a/b/x")] == [
            "acknowledge",
            "shelve",
        ]
        assert journal.query(tag="other/tag/y") == []
        latest = journal.latest()["a/b/x"]
        assert latest.state is AlarmState.SHELVED and latest.shelve_reason == "sensor work"
        out = io.StringIO()
        assert journal.export_csv(out) == 3
        rows = list(csv.reader(io.StringIO(out.getvalue())))
        assert tuple(rows[0]) == CSV_COLUMNS
        assert rows[2][1:5] == ["a/b/x", "acknowledge", "unacknowledged", "acknowledged"]
        assert rows[2][8:10] == ["alice", "on it"]
        assert rows[1][7] == "20.0" and rows[1][10] == "x high"
