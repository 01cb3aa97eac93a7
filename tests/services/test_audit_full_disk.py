"""The audit trail on a full disk (issue 15, item 1): an action whose row cannot be stored
is refused with the reason, what happened anyway (logins, logouts, results) waits and is
written when the space is back, and every failure is reported for its alarm. The disk is
full by ``PRAGMA max_page_count`` (tests/services/full_disk.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from hmi.bus import Bus, RemoteError, Supervisor, VirtualClock
from hmi.bus.wire.messages import encode_command
from hmi.core.command import Command
from hmi.core.passwords import PARAMETERS, hash_password
from hmi.project.model import UserConfig
from hmi.services import health as items
from hmi.services.audit import AuditEntry, AuditLog, AuditUnavailable
from hmi.services.audit_intent import IntentRefused, remote_intent
from hmi.services.health import StoreHealth
from hmi.services.security import LoginFailed, Security, load_or_create_key
from hmi.services.security_actor import AuditRecorder, SecurityActor
from hmi.services.sessions import SessionsUnavailable
from tests.services.full_disk import AUDIT, fill, free

T0 = 1_700_000_000.0
PLANT = "Test plant"
FAST = dataclasses.replace(PARAMETERS, time_cost=1, memory_cost=64, parallelism=1)
SALT = b"0123456789abcdef"
USERS = {
    name: UserConfig(name, frozenset({role}), password_hash=hash_password(f"pw-{name}", SALT, FAST))
    for name, role in (("olga", "operator"), ("ada", "admin"))
}


@dataclasses.dataclass
class Backend:
    audit: AuditLog
    security: Security
    health: StoreHealth
    clock: VirtualClock

    def full(self) -> None:
        fill(self.audit._db, AUDIT)

    def free(self) -> None:
        free(self.audit._db, AUDIT)

    def rows(self, **match: Any) -> list[tuple[str, str, str, Any]]:
        """``(user, action, outcome, new_value)`` of the rows whose fields equal ``match``."""
        return [
            (e.user, e.action, e.outcome, e.new_value)
            for e in self.audit.query()
            if all(getattr(e, k) == v for k, v in match.items())
        ]


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    health = StoreHealth()
    clock = VirtualClock(start=T0)
    audit = AuditLog(tmp_path / "audit.sqlite", health=health)
    security = Security(
        USERS,
        load_or_create_key(tmp_path / "plant.key"),
        audit,
        clock=clock.time,
        audience=PLANT,
        state=tmp_path / "sessions.json",
        health=health,
    )
    yield Backend(audit, security, health, clock)
    audit.close()


def test_record_refuses_on_a_full_store_and_noted_rows_wait_for_the_space(
    backend: Backend,
) -> None:
    audit = backend.audit
    audit.record(AuditEntry(T0, "olga", "write", "a/b", new_value=1.0, outcome="requested"))
    backend.full()
    with pytest.raises(AuditUnavailable, match=r"^audit unavailable: database or disk is full$"):
        audit.record(AuditEntry(T0 + 1, "olga", "write", "a/b", new_value=2.0))
    assert backend.health.problems() == {items.AUDIT: "database or disk is full"}
    # What happened anyway is kept, in order, and never raises.
    assert audit.note(AuditEntry(T0 + 2, "olga", "login", outcome="ok")) is False
    assert audit.note(AuditEntry(T0 + 3, "olga", "logout", outcome="ok")) is False
    assert audit.backlog == 2
    backend.free()
    assert audit.retry() is True
    assert backend.health.problems() == {}
    assert [r[1] for r in backend.rows()] == ["write", "login", "logout"]


def test_noted_rows_are_bounded_and_their_loss_counted(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.sqlite", max_backlog=3) as audit:
        audit.record(AuditEntry(T0, "olga", "login"))
        fill(audit._db, AUDIT)
        for i in range(5):
            audit.note(AuditEntry(T0 + i, "olga", f"event {i}"))
        assert (audit.backlog, audit.lost) == (3, 2)
        free(audit._db, AUDIT)
        audit.retry()
        assert [e.action for e in audit.query()] == ["login", "event 2", "event 3", "event 4"]


def test_logins_and_logouts_work_while_the_audit_is_full(backend: Backend) -> None:
    sec = backend.security
    backend.full()

    async def main() -> str:
        token = await sec.login("olga", "pw-olga", node="hmi-1")  # sessions need no disk
        with pytest.raises(LoginFailed, match="wrong user name or password"):
            await sec.login("olga", "wrong")
        return token

    token = asyncio.run(main())
    assert sec.verify(token).user == "olga"
    sec.logout(token, reason="shift end")
    assert backend.health.problems() == {items.AUDIT: "database or disk is full"}
    backend.free()
    assert backend.audit.retry()
    assert backend.rows() == [
        ("olga", "login", "ok", None),
        ("olga", "login", "denied", None),
        ("olga", "logout", "ok", None),
    ]


def test_a_logout_holds_while_the_session_file_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    health = StoreHealth()
    clock = VirtualClock(start=T0)
    sec = Security(
        USERS,
        b"k" * 32,
        None,
        clock=clock.time,
        audience=PLANT,
        state=blocker / "sessions.json",
        health=health,
    )
    token = asyncio.run(sec.login("olga", "pw-olga"))
    sec.logout(token)  # cannot be saved: holds all the same, and is reported
    assert "sessions" in health.problems()
    with pytest.raises(Exception, match="logged out"):
        sec.verify(token)
    sec.disable("ada", "admin", "left the company")
    with pytest.raises(SessionsUnavailable, match="still disabled"):
        sec.enable("ada", "admin")  # loosening what cannot be saved: refused
    assert "ada" in sec.disabled_users()

    blocker.unlink()
    assert sec.retry_saving() is True
    assert health.problems() == {}
    reloaded = Security(
        USERS, b"k" * 32, None, clock=clock.time, audience=PLANT, state=blocker / "sessions.json"
    )
    assert "ada" in reloaded.disabled_users()
    with pytest.raises(Exception, match="logged out"):
        reloaded.verify(token)


def test_enabling_a_user_is_refused_when_it_cannot_be_audited(backend: Backend) -> None:
    sec = backend.security
    sec.disable("olga", "ada", "on leave")
    backend.full()
    with pytest.raises(AuditUnavailable):
        sec.enable("olga", "ada")
    assert "olga" in sec.disabled_users()
    backend.free()
    assert sec.enable("olga", "ada") is True


@asynccontextmanager
async def audit_service(backend: Backend) -> AsyncIterator[Bus]:
    """A bus with the security service and the audit recorder on ``backend``."""
    bus = Bus.local(backend.clock)
    async with Supervisor(bus) as sup:
        await sup.start(SecurityActor(backend.security))
        await sup.start(AuditRecorder(backend.audit, backend.security))
        yield bus
    await bus.close()


def command(token: str, value: float = 2.5) -> Command:
    return Command(
        uuid.uuid4().hex, "area1/lic101/sp", value, user="olga", token=token, time=T0, node="hmi-1"
    )


def test_intend_stores_the_row_in_the_verified_user_before_it_answers(backend: Backend) -> None:
    async def main() -> None:
        async with audit_service(backend) as bus:
            session = await bus.call("security", "login", "olga", "pw-olga")
            cmd = dataclasses.replace(command(session["token"]), user="ada")  # claims another
            answer = await bus.call("audit", "intend", encode_command(cmd))
            assert answer == {"id": cmd.id, "user": "olga"}
            assert backend.rows(action="write") == [("olga", "write", "requested", 2.5)]
            # The same command again (a replay): the same answer, no second row.
            assert await bus.call("audit", "intend", encode_command(cmd)) == answer
            assert len(backend.rows(action="write")) == 1
            # A forged token: no row, and the reason.
            forged = dataclasses.replace(cmd, id="x", token="forged")
            with pytest.raises(RemoteError) as refused:
                await bus.call("audit", "intend", encode_command(forged))
            assert refused.value.remote_type == "InvalidToken"
            with pytest.raises(RemoteError, match="malformed command"):
                await bus.call("audit", "intend", {"tag": 1})

    asyncio.run(main())


def test_a_write_whose_row_cannot_be_stored_is_refused_with_the_reason(backend: Backend) -> None:
    async def main() -> None:
        async with audit_service(backend) as bus:
            intend = remote_intent(bus)
            session = await bus.call("security", "login", "olga", "pw-olga")
            await intend(command(session["token"], 1.0))
            backend.full()
            with pytest.raises(IntentRefused) as refused:
                await intend(command(session["token"], 2.0))
            assert str(refused.value) == "audit unavailable: database or disk is full"
            assert backend.health.problems()[items.AUDIT] == "database or disk is full"
            with pytest.raises(IntentRefused, match=r"^invalid session: "):
                await intend(command("forged"))
            backend.free()
            await intend(command(session["token"], 3.0))
            writes = [r[3] for r in backend.rows(action="write")]
            assert writes == [1.0, 3.0]  # the refused write has no row: it was not made
            assert backend.health.problems() == {}

    asyncio.run(main())


def test_a_writer_without_an_audit_service_is_told_so() -> None:
    async def main() -> None:
        bus = Bus.local()
        with pytest.raises(IntentRefused, match=r"^audit unavailable: audit service unreachable$"):
            await remote_intent(bus)(command("t"))
        await bus.close()

    asyncio.run(main())


def test_results_and_events_wait_while_the_audit_is_full(backend: Backend) -> None:
    async def main() -> None:
        async with audit_service(backend) as bus:
            backend.full()
            bus.publish("audit/write", {"user": "olga", "target": "a/b", "outcome": "denied"})
            backend.free()
            await backend.clock.run_for(10.0)  # the recorder writes what waits
            assert backend.audit.backlog == 0
            assert ("olga", "write", "denied", None) in backend.rows()

    asyncio.run(main())
