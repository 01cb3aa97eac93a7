"""Who is writing: the driver verifies every command's session before it writes anything.

A ``cmd/`` message can come from any node, so nothing it claims (user, roles) is trusted.
The driver actor asks a :data:`SessionVerifier` for the identity the command's token
proves; in a plant that is :func:`remote_verifier`, the security service's ``verify``
RPC, which also knows about logouts (a token's signature cannot say it was revoked).
When the session cannot be checked (no token, a forged, expired or revoked one, or the
security service unreachable) the command is rejected: deny by default, never fall back
to the command's claims. A session is bound to the node that logged in
(:func:`node_refusal`): a token seen on the bus and used from another node is refused.
The composition root's RPC authorizer makes the same checks for RPC calls.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from hmi.bus import Bus, RemoteError, RpcTimeout
from hmi.core.command import Command
from hmi.core.identity import Identity, InvalidToken
from hmi.drivers.write_checks import Rejected

log = logging.getLogger(__name__)

#: ``await verify(token)``: the identity a session token proves. Raises
#: :class:`~hmi.core.identity.InvalidToken` for a forged, expired or revoked token and
#: :class:`SecurityUnavailable` when it cannot tell.
SessionVerifier = Callable[[str], Awaitable[Identity]]


class SecurityUnavailable(Exception):
    """The session could not be checked (the security service did not answer properly)."""


class InvalidSession(Rejected):
    """The token is bad in itself (forged, expired, revoked, malformed): no later check
    will accept it, unlike a session that could not be checked."""


def remote_verifier(bus: Bus, target: str = "security", timeout: float = 2.0) -> SessionVerifier:
    """A verifier that asks the security service (RPC ``<target>.verify``) on ``bus``."""

    async def verify(token: str) -> Identity:
        try:
            session = await bus.call_in_task(target, "verify", token, timeout=timeout)
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
    """The identity ``command``'s token proves; raise :class:`Rejected` saying why not
    (:class:`InvalidSession` when the token itself is bad)."""
    if not command.token:
        raise Rejected("not logged in (command carries no session token)")
    try:
        return await verify(command.token)
    except InvalidToken as exc:
        raise InvalidSession(f"invalid session: {exc}") from None
    except SecurityUnavailable as exc:
        raise Rejected(f"cannot verify the session: {exc}") from None
    except Exception:  # a broken verifier denies too: never trust the command's claims
        log.exception("session verifier failed")
        raise Rejected("cannot verify the session: verifier failed") from None


def node_refusal(identity: Identity, sender: str | None) -> str | None:
    """Why ``identity``'s session may not act for a message from node ``sender``, or None.

    ``sender`` is the verified id of the node a message came from (the transport's
    ``current_sender``); None for a message of this process, which is not checked. A
    session belongs to the node that logged in (``Identity.node``): the same token from
    any other node is one seen on the bus and used by someone else.
    """
    if sender is None or identity.node == sender:
        return None
    return f"the session belongs to node {identity.node or '(none)'!r}, not to {sender!r}"


def claimed_user(token: str) -> str:
    """The user name ``token`` claims, *unverified*, for the audit of a refusal ("" when
    it names none). Never a basis for a decision: only to say who someone pretended to be.

    Reads the JSON claims of the token's first segments that decode to an object (our
    ``body.signature`` tokens and JWTs alike), under the usual user claims.
    """
    if not token or len(token) > 8192:  # nothing worth decoding in an oversized one
        return ""
    for part in token.split(".")[:2]:
        try:
            claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except (ValueError, TypeError):
            continue
        if isinstance(claims, dict):
            for key in ("u", "sub", "user"):
                value = claims.get(key)
                if isinstance(value, str) and value:
                    return value[:100]
    return ""
