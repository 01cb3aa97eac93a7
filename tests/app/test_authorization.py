"""Authorization is enforced where the write happens, and every attempt is audited.

The whole backend of the demo runs on an in-memory bus: the simulated plant on a real
Modbus/TCP port, the driver, the security service and the audit recorder. Commands are
published as any node could publish them, including crafted ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv

import pytest

from hmi.app import DEMO_PROJECT
from hmi.app.plant import Backend
from hmi.app.session import export_audit
from hmi.bus import Bus, RemoteError, bind_store
from hmi.core.command import CommandState
from hmi.core.identity import Identity, issue_token
from hmi.core.quality import Severity
from hmi.core.tagstore import TagStore
from hmi.project import load_project
from tests.app.helpers import Results, send, until_value

SP = "area1/lic101/sp"


def test_crafted_commands_are_rejected_and_every_attempt_is_audited(tmp_path):
    async def main() -> None:
        bus = Bus.local()
        backend = Backend(load_project(DEMO_PROJECT), bus, tmp_path, simulate=True)
        await backend.start()
        store = TagStore()
        bind_store(bus, store, "tag/#")
        results = Results(bus)
        try:
            await until_value(store, SP, lambda s: s.quality.severity is Severity.GOOD)

            operator = await bus.call("security", "login", "operator", "demo-operator")
            ok = send(bus, SP, 2.8, user="operator", token=operator["token"], old_value=3.2)
            assert (await results.wait(ok)).state is CommandState.CONFIRMED
            await until_value(store, SP, lambda s: abs(s.value - 2.8) < 1e-6)

            # No token, but claiming every role there is.
            crafted = send(bus, SP, 4.0, user="operator", roles=frozenset({"admin", "operator"}))
            result = await results.wait(crafted)
            assert result.state is CommandState.REJECTED
            assert "not logged in" in result.message

            # A viewer's genuine token, with roles the command claims for itself.
            viewer = await bus.call("security", "login", "viewer", "demo-viewer")
            sneaky = send(
                bus, SP, 4.0, user="viewer", roles=frozenset({"engineer"}), token=viewer["token"]
            )
            result = await results.wait(sneaky)
            assert result.state is CommandState.REJECTED
            assert "viewer may not write" in result.message

            # A token forged with another key.
            forged_token = issue_token(
                Identity("admin", frozenset({"admin", "operator"}), expires=4e9),
                b"not the plant key" * 2,
            )
            forged = send(bus, SP, 4.0, user="admin", token=forged_token)
            result = await results.wait(forged)
            assert result.state is CommandState.REJECTED
            assert "invalid session" in result.message

            # A legitimate user, but outside the tag's limits.
            wild = send(bus, SP, 9.0, user="operator", token=operator["token"])
            result = await results.wait(wild)
            assert result.state is CommandState.REJECTED

            assert abs(store.get(SP).value - 2.8) < 1e-6  # nothing else was written
            await bus.drain()
            assert backend.audit is not None
            everything = backend.audit.query(action="write")
            # a write that passed every check was recorded as requested before it was sent
            assert [(r.new_value, r.outcome) for r in everything if r.outcome == "requested"] == [
                (2.8, "requested")
            ]
            rows = [r for r in everything if r.outcome != "requested"]
            assert [(r.user.split(" ")[0], r.new_value, r.outcome) for r in rows] == [
                ("operator", 2.8, "confirmed"),
                ("operator", 4.0, "rejected"),
                ("viewer", 4.0, "rejected"),
                ("admin", 4.0, "rejected"),
                ("operator", 9.0, "rejected"),
            ]
            assert "unverified" in rows[1].user and "unverified" in rows[3].user
            assert rows[0].old_value == 3.2
            logins = backend.audit.query(action="login")
            assert [(r.user, r.outcome) for r in logins] == [("operator", "ok"), ("viewer", "ok")]
        finally:
            await backend.stop()
            await bus.close()

    asyncio.run(main())


def test_audit_trail_is_served_to_its_readers_and_exported_as_rows(tmp_path):
    async def main() -> None:
        bus = Bus.local()
        backend = Backend(load_project(DEMO_PROJECT), bus, tmp_path, simulate=True)
        await backend.start()
        try:
            engineer = await bus.call("security", "login", "engineer", "demo-engineer")
            with contextlib.suppress(RemoteError):
                await bus.call("security", "login", "engineer", "guess")
            rows = await bus.call("audit", "recent", 10, token=engineer["token"])
            assert [(r["user"], r["outcome"]) for r in rows] == [
                ("engineer", "ok"),
                ("engineer", "denied"),
            ]
            # Export is the admin's (engineers read, they do not export, by default).
            with pytest.raises(RemoteError, match="may not export") as refused:
                await bus.call("audit", "export", token=engineer["token"])
            assert refused.value.remote_type == "PermissionError"

            admin = await bus.call("security", "login", "admin", "demo-admin")
            before = {p.name for p in tmp_path.rglob("*")}
            exported = await bus.call("audit", "export", token=admin["token"])
            assert [(r["user"], r["action"]) for r in exported[:2]] == [
                ("engineer", "login"),
                ("engineer", "login"),
            ]
            text = await bus.call("audit", "export", as_csv=True, token=admin["token"])
            assert text.splitlines()[0].startswith("time,user,action,target")
            assert "engineer,login" in text.replace('"', "")
            # A path is no time bound: the backend never writes a file a caller names.
            wanted = tmp_path / "stolen.csv"
            with pytest.raises(RemoteError, match="since must be POSIX seconds"):
                await bus.call("audit", "export", str(wanted), token=admin["token"])
            assert not wanted.exists()
            assert {p.name for p in tmp_path.rglob("*")} == before  # nothing written
            # Each export is audited, refused or made, by whom and what it took.
            assert backend.audit is not None
            exports = backend.audit.query(action="audit.export")
            assert [(r.user, r.outcome) for r in exports] == [
                ("engineer", "denied"),
                ("admin", "ok"),
                ("admin", "ok"),
            ]
            assert "permission export_audit" in exports[0].reason
            assert exports[1].new_value["rows"] == len(exported)
        finally:
            await backend.stop()
            await bus.close()

    asyncio.run(main())


def test_the_station_saves_an_export_on_its_own_machine(tmp_path):
    async def main() -> None:
        bus = Bus.local()
        data = tmp_path / "backend"
        backend = Backend(load_project(DEMO_PROJECT), bus, data, drivers=False)
        await backend.start()
        station = tmp_path / "station"
        station.mkdir()
        try:
            viewer = await bus.call("security", "login", "viewer", "demo-viewer")
            with pytest.raises(RemoteError, match="may not export"):
                await export_audit(bus, viewer["token"], station / "refused.csv")
            assert list(station.iterdir()) == []

            admin = await bus.call("security", "login", "admin", "demo-admin")
            count = await export_audit(bus, admin["token"], station / "audit.csv")
            rows = list(csv.DictReader((station / "audit.csv").open(encoding="utf-8")))
            assert count == len(rows) == 3  # two logins and the refused export
            assert [(r["user"], r["action"], r["outcome"]) for r in rows] == [
                ("viewer", "login", "ok"),
                ("viewer", "audit.export", "denied"),
                ("admin", "login", "ok"),
            ]
            assert not list(data.rglob("*.csv"))  # the backend wrote no file
        finally:
            await backend.stop()
            await bus.close()

    asyncio.run(main())
