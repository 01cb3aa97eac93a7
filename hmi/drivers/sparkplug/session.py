"""The session of a service user: logged in at the security service, kept renewed.

A DCMD carries no session, so the edge node writes as the user the project names for it
(``sparkplug.commands.user``): it logs in like an operator station does (the password from
a file or the environment), renews the token before it expires and logs in again when
the session ended (a logout, a disabled user, a backend restart with a new key). The
writers then verify that token like any other: the user's roles decide.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hmi.bus import Bus, RemoteError, RpcTimeout

log = logging.getLogger(__name__)

#: renew a token when less than this share of its life is left
RENEW_AT = 0.5


def node_id(bus: Bus) -> str:
    """The id other nodes know this bus by: the broker's for a joined bus (a session is
    bound to it, and the writers compare it with the sender of each command), else its
    name."""
    return str(getattr(bus.transport, "node_id", "") or bus.name)


class SessionUnavailable(Exception):
    """No session could be had; the message says why (for the audit of a refusal)."""


class ServiceSession:
    """A token for ``user`` whenever one is asked for (:meth:`token`)."""

    def __init__(
        self, bus: Bus, user: str, password: str, *, target: str = "security", host: str = ""
    ) -> None:
        self.bus = bus
        self.user = user
        self._password = password
        self.target = target
        self.host = host
        self._session: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        """A live token (logging in or renewing first when needed)."""
        async with self._lock:  # one login at a time, however many DCMDs wait
            now = self.bus.clock.time()
            session = self._session
            if session is not None:
                issued = float(session.get("issued", now))
                expires = float(session.get("expires", 0.0))
                if now < issued + (expires - issued) * RENEW_AT:
                    return str(session["token"])
                if now < expires:
                    session = await self._renew(str(session["token"]))
                else:
                    session = None
            if session is None:
                session = await self._login()
            self._session = session
            return str(session["token"])

    async def _renew(self, token: str) -> dict[str, Any] | None:
        try:
            renewed = await self.bus.call(self.target, "refresh", token, timeout=5.0)
        except (RemoteError, RpcTimeout, OSError) as exc:
            log.info("sparkplug: session of %s not renewed (%s): logging in", self.user, exc)
            return None
        return renewed if isinstance(renewed, dict) else None

    async def _login(self) -> dict[str, Any]:
        try:
            session = await self.bus.call(
                self.target,
                "login",
                self.user,
                self._password,
                node=node_id(self.bus),
                host=self.host,
                timeout=10.0,
            )
        except RemoteError as exc:
            raise SessionUnavailable(
                f"login of {self.user} refused: {exc.remote_message or exc.remote_type}"
            ) from None
        except (RpcTimeout, OSError) as exc:
            raise SessionUnavailable(f"security service unreachable ({exc})") from None
        if not isinstance(session, dict) or "token" not in session:
            raise SessionUnavailable("security service gave a malformed session")
        return session

    async def close(self) -> None:
        """Log out (audited by the security service); quietly, it may be gone."""
        session, self._session = self._session, None
        if session is not None:
            try:
                await self.bus.call(self.target, "logout", session["token"], timeout=2.0)
            except (RemoteError, RpcTimeout, OSError) as exc:
                log.info("sparkplug: logout of %s: %s", self.user, exc)
