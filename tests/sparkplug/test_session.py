"""The service user's session of the DCMD gate: logged in once, renewed at half its life,
logged in again after it ended, and a refused login named in the error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hmi.bus import Actor, Bus, Supervisor, VirtualClock, expose
from hmi.drivers.sparkplug.session import ServiceSession, SessionUnavailable


class FakeSecurity(Actor):
    """Answers as the security service does; counts what it was asked."""

    name = "security"

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.now = clock
        self.calls: list[str] = []
        self.password = "right"

    def _session(self, n: int) -> dict[str, Any]:
        now = self.now.time()
        return {"token": f"t{n}", "user": "mqtt-host", "issued": now, "expires": now + 900}

    @expose
    def login(self, user: str, password: str, node: str = "", host: str = "") -> dict[str, Any]:
        self.calls.append(f"login {user} node={node} host={host}")
        if password != self.password:
            raise PermissionError("login refused")
        return self._session(len(self.calls))

    @expose
    def refresh(self, token: str) -> dict[str, Any]:
        self.calls.append(f"refresh {token}")
        return self._session(len(self.calls))

    @expose
    def logout(self, token: str, reason: str = "") -> None:
        self.calls.append(f"logout {token}")


def test_login_renew_relogin_and_logout() -> None:
    async def scenario() -> None:
        clock = VirtualClock(1000.0)
        bus = Bus.local(clock=clock, name="backend")
        security = FakeSecurity(clock)
        supervisor = Supervisor(bus)
        await supervisor.start(security)
        session = ServiceSession(bus, "mqtt-host", "right", host="mqtt://broker:1883")
        try:
            assert await session.token() == "t1"
            assert security.calls == ["login mqtt-host node=backend host=mqtt://broker:1883"]
            assert await session.token() == "t1"  # young: kept
            clock.advance(500)  # past half its life: renewed
            assert await session.token() == "t2"
            assert security.calls[-1] == "refresh t1"
            clock.advance(1000)  # past its end: a new login
            assert await session.token() == "t3"
            assert security.calls[-1].startswith("login")
            await session.close()
            assert security.calls[-1] == "logout t3"
            security.password = "changed"
            with pytest.raises(SessionUnavailable, match="login of mqtt-host refused"):
                await session.token()
        finally:
            await supervisor.stop()
            await bus.close()

    asyncio.run(scenario())
