"""Tickets for direct calls: the broker's word that a caller may call a target directly.

A node's stream endpoint (:mod:`hmi.bus.net.rpcstream`) takes a call only under a ticket
the broker issued when it routed one of that caller's calls to the target itself, after
its own checks (a client policy's rights under CURVE, the caller's node id bound to its
connection). A ticket is a JWT (PyJWT, HS256) signed with a key the broker gave the
serving node alone, in its welcome (on the node's own connection: under CURVE, encrypted):
``sub`` the caller's node id, ``tgt`` the target, ``exp`` :data:`TICKET_SECONDS` ahead.
So the serving node checks for itself who calls what, without asking the broker each
time; a caller stops using a ticket :data:`RENEW_BEFORE` seconds before it expires and
calls through the broker again, which issues a new one (so a policy change reaches
direct calls within :data:`TICKET_SECONDS`). A broker that restarts gives a new key: old
tickets are refused (``TicketRefused``) and their callers go back through the broker.
"""

from __future__ import annotations

import secrets
from typing import Any

#: how long a ticket is good for (s)
TICKET_SECONDS = 30
#: a caller goes back through the broker this long before its ticket expires (s)
RENEW_BEFORE = 5.0
#: the bytes of a node's ticket key (HS256 wants at least 32)
KEY_BYTES = 32
#: the error a node answers to a call without a good ticket (its caller retries through
#: the broker)
REFUSED = "TicketRefused"
_ALGORITHM = "HS256"


class InvalidTicket(ValueError):
    """A ticket that is malformed, forged, expired, or not for this call."""


def new_key() -> bytes:
    """A serving node's ticket key (the broker's, sent in its welcome)."""
    return secrets.token_bytes(KEY_BYTES)


def issue(key: bytes, caller: str, target: str, now: float) -> str:
    """A ticket for ``caller`` to call ``target`` directly, signed with ``key``."""
    import jwt  # (at the first ticket: PyJWT and cryptography take ~47 ms to import)

    claims = {"sub": caller, "tgt": target, "exp": int(now) + TICKET_SECONDS}
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


def verify(key: bytes, ticket: str, now: float) -> tuple[str, str, float]:
    """``(caller, target, expiry)`` of a ticket signed with ``key`` and good at ``now``."""
    import jwt  # (at the first ticket: see issue)

    if not key:
        raise InvalidTicket("no ticket key (not welcomed yet)")
    try:
        claims: dict[str, Any] = jwt.decode(
            ticket,
            key,
            algorithms=[_ALGORITHM],
            options={"require": ["exp", "sub", "tgt"], "verify_exp": False},
        )
    except jwt.InvalidTokenError as exc:
        raise InvalidTicket(str(exc)) from exc
    caller, target, expiry = claims["sub"], claims["tgt"], claims["exp"]
    if not isinstance(caller, str) or not isinstance(target, str):
        raise InvalidTicket("sub and tgt must be text")
    if not isinstance(expiry, int | float) or expiry <= now:
        raise InvalidTicket("expired")
    return caller, target, float(expiry)


def expiry_of(ticket: str) -> float:
    """When a ticket expires, as it says (read by its holder, who cannot check it)."""
    import jwt  # (at the first ticket: see issue)

    try:
        claims = jwt.decode(ticket, options={"verify_signature": False})
        return float(claims["exp"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        return 0.0
