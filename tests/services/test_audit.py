from __future__ import annotations

import csv
import io

from hmi.services.audit import AuditEntry, AuditLog


def test_entries_round_trip_with_their_types(tmp_path):
    with AuditLog(tmp_path / "audit.sqlite") as log:
        log.record(
            AuditEntry(
                10.0,
                "alice",
                "write",
                "area1/p101/start",
                False,
                True,
                "confirmed",
                host="pc1",
                node="hmi-1",
                screen="overview",
            )
        )
        log.record(
            AuditEntry(
                11.0,
                "bob",
                "write",
                "area1/fv101/command",
                20.0,
                120.0,
                "rejected",
                reason="above high limit 100",
            )
        )
        log.record(AuditEntry(12.0, "alice", "logout", outcome="ok"))
        entries = log.query()
        assert [e.user for e in entries] == ["alice", "bob", "alice"]
        assert entries[0].new_value is True and entries[0].old_value is False
        assert entries[1].reason == "above high limit 100"
        assert [e.action for e in log.query(user="alice")] == ["write", "logout"]
        assert [e.time for e in log.query(since=11.0, until=12.0)] == [11.0]


def test_entries_survive_reopening_and_export_as_csv(tmp_path):
    path = tmp_path / "audit.sqlite"
    with AuditLog(path) as log:
        log.record(AuditEntry(1.0, "alice", "login", outcome="ok", host="pc1"))
        log.record(AuditEntry(2.0, "mallory", "write", "a/b/c", 1, 2, "rejected", "no role"))
    with AuditLog(path) as log:
        out = io.StringIO()
        assert log.export_csv(out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[1]["user"] == "mallory" and rows[1]["outcome"] == "rejected"
    assert rows[1]["reason"] == "no role" and rows[0]["host"] == "pc1"
