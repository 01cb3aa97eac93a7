"""Who is writing: the driver verifies every command's session before it writes anything.

A ``cmd/`` message can come from any node, so nothing it claims (user, roles) is trusted.
The driver actor asks a :data:`SessionVerifier` for the identity the command's token
proves; in a plant that is :func:`remote_verifier`, the security service's ``verify``
RPC, which also knows about logouts (a token's signature cannot say it was revoked).
When the session cannot be checked (no token, a forged, expired or revoked one, or the
security service unreachable) the command is rejected: deny by default, never fall back
to the command's claims.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from hmi.bus import Bus, RemoteError, RpcTimeout
from hmi.core.command import Command
from hmi.core.identity import Identity, InvalidToken
from hmi.drivers.writes import Rejected

log = logging.getLogger(__name__)

#: ``await verify(token)``: the identity a session token proves. Raises
#: :class:`~hmi.core.identity.InvalidToken` for a forged, expired or revoked token and
#: :class:`SecurityUnavailable` when it cannot tell.
SessionVerifier = Callable[[str], Awaitable[Identity]]


class SecurityUnavailable(Exception):
    """The session could not be checked (the security service did not answer properly)."""


def remote_verifier(bus: Bus, target: str = "security", timeout: float = 2.0) -> SessionVerifier:
    """A verifier that asks the security service (RPC ``<target>.verify``) on ``bus``."""

    async def verify(token: str) -> Identity:
        try:
            session = await bus.call(target, "verify", token, timeout=timeout)
        except RemoteError as exc:
            if exc.remote_type == InvalidToken.__name__:
                raise InvalidToken(exc.remote_message) from None
            if exc.remote_type == "LookupError":  # nobody exposes the target
                log.warning("cannot verify a session: %s", exc)
                raise SecurityUnavailable("security service unreachable") from None
            log.error("cannot verify a session: %s failed: %s", target, exc)
            raise SecurityUnavailable(f"security service failed ({exc.remote_type})") from None
        except (RpcTimeout, OSError) as exc:  # no reply in time, or the transport failed
            log.warning("cannot verify a session: %s: %s", target, str(exc) or type(exc).__name__)
            raise SecurityUnavailable("security service unreachable") from None
        return _identity(session)

    return verify


def _identity(session: Any) -> Identity:
    """The :class:`Identity` of the security service's session dict."""
    try:
        if not isinstance(session, Mapping):
            raise TypeError(type(session).__name__)
        roles = session["roles"]
        if isinstance(roles, str):  # a string would become a set of letters
            raise TypeError("roles")
        return Identity(
            user=str(session["user"]),
            roles=frozenset(str(r) for r in roles),
            node=str(session.get("node", "")),
            expires=float(session.get("expires", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        log.error("security service: malformed session (%s)", exc)
        raise SecurityUnavailable("security service gave a malformed answer") from None


async def verify_session(command: Command, verify: SessionVerifier) -> Identity:
    """The identity ``command``'s token proves; raise :class:`Rejected` saying why not."""
    if not command.token:
        raise Rejected("not logged in (command carries no session token)")
    try:
        return await verify(command.token)
    except InvalidToken as exc:
        raise Rejected(f"invalid session: {exc}") from None
    except SecurityUnavailable as exc:
        raise Rejected(f"cannot verify the session: {exc}") from None
    except Exception:  # a broken verifier denies too: never trust the command's claims
        log.exception("session verifier failed")
        raise Rejected("cannot verify the session: verifier failed") from None
