from __future__ import annotations

import csv
import io

from hmi.services.audit import AuditEntry, AuditLog, csv_text, entry_from_event


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


def test_the_newest_rows_and_csv_text_for_a_client_to_save(tmp_path):
    with AuditLog(tmp_path / "audit.sqlite") as log:
        for n in range(5):
            log.record(AuditEntry(float(n), f"u{n}", "login", outcome="ok"))
        assert [e.user for e in log.newest(2)] == ["u3", "u4"]  # oldest first
        assert log.newest(0) == [] and len(log.newest(99)) == 5
        text = csv_text(log.query(since=1.0, until=3.0))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["user"] for r in rows] == ["u1", "u2"]


def test_an_event_of_another_node_becomes_an_entry():
    event = {
        "user": "vic",
        "action": "drivers.set_tags",
        "target": "a/b/c",
        "old_value": {"high": 100},
        "outcome": "denied",
        "reason": "no",
        "node": 7,
    }
    entry = entry_from_event(event, now=12.5)
    assert (entry.time, entry.user, entry.node, entry.old_value) == (
        12.5,
        "vic",
        "7",
        {"high": 100},
    )
    assert entry_from_event({"time": 3.0, "user": None}, now=9.0).user == ""
