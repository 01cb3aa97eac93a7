"""Who is asking: identities and the signed session tokens that prove them across processes.

The security service issues a token at login; a command carries it; the node that performs
the write (a driver, perhaps on another machine) verifies it with the shared plant key
before trusting the user and roles the command claims. A crafted ``cmd/`` message without a
valid token, or with roles its token does not grant, is rejected.

Token: ``base64url(json claims) "." base64url(HMAC-SHA256(key, claims))``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass


class InvalidToken(ValueError):
    """The token is malformed, forged, or expired; the message says which."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A logged-in user on a node, valid until ``expires`` (POSIX seconds)."""

    user: str
    roles: frozenset[str]
    node: str = ""
    expires: float = 0.0
    #: unique per login, so a logout can revoke exactly this session
    session: str = ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(identity: Identity, key: bytes) -> str:
    """Sign ``identity`` with ``key``."""
    claims = {
        "u": identity.user,
        "r": sorted(identity.roles),
        "n": identity.node,
        "e": identity.expires,
        "s": identity.session,
    }
    body = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8")
    signature = hmac.new(key, body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(signature)}"


def verify_token(token: str, key: bytes, now: float) -> Identity:
    """The identity ``token`` proves; raises :class:`InvalidToken` otherwise."""
    try:
        body_text, signature_text = token.split(".")
        body, signature = _unb64(body_text), _unb64(signature_text)
    except ValueError:
        raise InvalidToken("malformed token") from None
    expected = hmac.new(key, body, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise InvalidToken("bad signature")
    try:
        claims = json.loads(body)
        identity = Identity(
            user=str(claims["u"]),
            roles=frozenset(str(r) for r in claims["r"]),
            node=str(claims["n"]),
            expires=float(claims["e"]),
            session=str(claims["s"]),
        )
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("malformed claims") from None
    if identity.expires and now >= identity.expires:
        raise InvalidToken("expired")
    return identity


class Unauthorized(PermissionError):
    """A command may not be carried out; the message is the reason for the operator."""


def authorize_command(
    token: str,
    claimed_user: str,
    tag_name: str,
    *,
    write_roles: frozenset[str],
    key: bytes,
    now: float,
) -> Identity:
    """Check that ``token`` proves a user allowed to write ``tag_name``; return who it is.

    The roles come from the signed token, never from the command itself, so a crafted
    command that claims ``admin`` gains nothing. Raises :class:`Unauthorized`.
    """
    if not token:
        raise Unauthorized("not logged in (command carries no session token)")
    try:
        identity = verify_token(token, key, now)
    except InvalidToken as exc:
        raise Unauthorized(f"invalid session: {exc}") from None
    authorize_write(identity, claimed_user, tag_name, write_roles=write_roles)
    return identity


def authorize_write(
    identity: Identity, claimed_user: str, tag_name: str, *, write_roles: frozenset[str]
) -> None:
    """Check that a verified ``identity`` may write ``tag_name``; raise :class:`Unauthorized`.

    The user a command claims must be the one its session proves (or none), and the roles
    are the session's, never the command's own claims.
    """
    if claimed_user and claimed_user != identity.user:
        raise Unauthorized(f"command claims user {claimed_user!r} but session is {identity.user!r}")
    if not write_roles:
        raise Unauthorized(f"{tag_name} is read-only")
    if write_roles.isdisjoint(identity.roles):
        needed = ", ".join(sorted(write_roles))
        raise Unauthorized(f"user {identity.user!r} lacks a role to write {tag_name} ({needed})")
