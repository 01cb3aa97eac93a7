"""Authorization is enforced where the write happens, and every attempt is audited.

The whole backend of the demo runs on an in-memory bus: the simulated plant on a real
Modbus/TCP port, the driver, the security service and the audit recorder. Commands are
published as any node could publish them, including crafted ones.
"""

from __future__ import annotations

import asyncio
import contextlib

from hmi.app import DEMO_PROJECT
from hmi.app.plant import Backend
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
            assert "lacks a role" in result.message

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
            rows = backend.audit.query(action="write")
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


def test_audit_trail_is_served_over_rpc_and_exports_csv(tmp_path):
    async def main() -> None:
        bus = Bus.local()
        backend = Backend(load_project(DEMO_PROJECT), bus, tmp_path, simulate=True)
        await backend.start()
        try:
            await bus.call("security", "login", "engineer", "demo-engineer")
            with contextlib.suppress(RemoteError):
                await bus.call("security", "login", "engineer", "guess")
            rows = await bus.call("audit", "recent", 10)
            assert [(r["user"], r["outcome"]) for r in rows] == [
                ("engineer", "ok"),
                ("engineer", "denied"),
            ]
            count = await bus.call("audit", "export_csv", str(tmp_path / "audit.csv"))
            assert count == 2
            assert "engineer,login" in (tmp_path / "audit.csv").read_text().replace('"', "")
        finally:
            await backend.stop()
            await bus.close()

    asyncio.run(main())
