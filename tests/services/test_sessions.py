"""Logouts and disabled users reach every door at once and survive a backend restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hmi.app import DEMO_PROJECT
from hmi.app.plant import SESSIONS_FILE, Backend
from hmi.bus import Bus, RemoteError
from hmi.core.command import CommandState
from hmi.core.identity import InvalidToken
from hmi.project import load_project
from hmi.services.security import LoginFailed, Security
from hmi.services.sessions import SessionLedger, SessionStateError
from tests.app.helpers import Results, send


def security(tmp_path: Path, clock: list[float]) -> Security:
    project = load_project(DEMO_PROJECT)
    key = b"k" * 32
    return Security(
        project.users, key, None, clock=lambda: clock[0], audience="p", state=tmp_path / "s.json"
    )


def test_a_logout_survives_a_restart_of_the_security_service(tmp_path: Path) -> None:
    clock = [1000.0]
    token = asyncio.run(security(tmp_path, clock).login("operator", "demo-operator"))
    first = security(tmp_path, clock)
    first.logout(token)
    again = security(tmp_path, clock)  # a restarted backend
    with pytest.raises(InvalidToken, match="logged out"):
        again.verify(token)
    with pytest.raises(InvalidToken, match="logged out"):
        again.refresh(token)


def test_a_disabled_user_is_refused_everywhere_until_enabled(tmp_path: Path) -> None:
    clock = [1000.0]
    service = security(tmp_path, clock)
    token = asyncio.run(service.login("operator", "demo-operator"))
    service.disable("operator", "admin", "left the company")
    for check in (service.verify, service.refresh):
        with pytest.raises(InvalidToken, match="user disabled"):
            check(token)
    with pytest.raises(LoginFailed, match="wrong user name or password"):
        asyncio.run(service.login("operator", "demo-operator"))
    restarted = security(tmp_path, clock)
    assert restarted.disabled_users()["operator"].by == "admin"
    assert restarted.enable("operator", "admin")
    assert asyncio.run(restarted.login("operator", "demo-operator"))
    with pytest.raises(KeyError):
        restarted.disable("nobody", "admin")


def test_an_unreadable_state_file_stops_the_service_instead_of_forgetting(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.json"
    path.write_text("{not json")
    with pytest.raises(SessionStateError, match="removing it forgets every logout"):
        SessionLedger(path)


def test_disabling_needs_manage_users_and_stops_the_next_write(tmp_path: Path) -> None:
    async def main() -> None:
        bus = Bus.local()
        backend = Backend(load_project(DEMO_PROJECT), bus, tmp_path, simulate=True)
        await backend.start()
        results = Results(bus)
        try:
            operator = await bus.call("security", "login", "operator", "demo-operator")
            admin = await bus.call("security", "login", "admin", "demo-admin")
            with pytest.raises(RemoteError) as refused:
                await bus.call("security", "disable_user", "operator", token=operator["token"])
            assert refused.value.remote_type == "PermissionError"
            await bus.call(
                "security", "disable_user", "operator", "shift over", token=admin["token"]
            )
            sent = send(
                bus,
                "area1/lic101/sp",
                2.0,
                user="operator",
                token=operator["token"],
                time=bus.clock.time(),
            )
            result = await results.wait(sent)
            assert result.state is CommandState.REJECTED
            assert "user disabled" in result.message
            listed = await bus.call("security", "disabled_users", token=admin["token"])
            assert listed["operator"]["by"] == "admin"
            assert (tmp_path / SESSIONS_FILE).exists()
        finally:
            await backend.stop()
            await bus.close()

    asyncio.run(main())
