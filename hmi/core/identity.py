"""Who is asking: identities and the signed session tokens that prove them across processes.

The security service issues a token at login; a command carries it; the node that performs
the write has it verified before trusting the user and roles the command claims. A crafted
``cmd/`` message without a valid token, or with roles its token does not grant, is rejected.

Tokens are JSON Web Tokens (PyJWT), HS256 with the plant key. Header: ``alg`` HS256, ``kid``
the key's id (:func:`key_id`), so the plant key can be rotated: verifiers hold the current
key and the previous ones, and pick the one the token names. Claims, all required:

============= =======================================================================
``sub``       the user
``roles``     the user's roles (a list of strings)
``node``      the node the user logged in on
``sid``       the session's id (logout revokes it; refresh keeps it)
``iat``       when this token was issued (POSIX seconds)
``exp``       when it expires: minutes after ``iat`` (:data:`TOKEN_SECONDS`), never absent
``auth_time`` when the session began (the login): a session is renewed up to a limit
``aud``       the plant (its project's name): a token of one plant is refused by another
``iss``       :data:`ISSUER`
============= =======================================================================

Any other algorithm (``none`` included), a missing ``kid``, a missing claim, a wrong
audience or issuer: :class:`InvalidToken`; a ``kid`` of none of our keys is a bad
signature. Time is passed in (``now``), never read.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jwt

#: the only signing algorithm made or accepted
ALGORITHM = "HS256"
ISSUER = "hmi-security"
#: a token lives minutes; the session it belongs to lives a shift and is renewed by refresh
TOKEN_SECONDS = 15 * 60.0
#: the audience of tokens when the caller names none: tests and tools. The security service
#: always names its plant (the project's name), and then refuses tokens of this audience.
DEFAULT_AUDIENCE = "hmi"
#: how far in the future ``iat`` may be (clocks of two PCs differ a little)
CLOCK_SKEW = 60.0

_REQUIRED = ("sub", "roles", "node", "sid", "iat", "exp", "auth_time", "aud", "iss")


@functools.cache
def _pyjwt() -> jwt.PyJWT:
    """PyJWT, as tokens are made and read here: signature, audience and issuer checked by
    PyJWT; the times by us, with ``now``. Imported at the first token, not at start-up
    (PyJWT and cryptography took 47 ms of every start before the first frame)."""
    import jwt

    return jwt.PyJWT(
        {
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
            "require": list(_REQUIRED),
            "enforce_minimum_key_length": True,  # HS256 keys of 32 bytes or more (RFC 7518)
            "strict_aud": True,  # one audience, a string, equal to ours
        }
    )


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


@dataclass(frozen=True, slots=True)
class Token:
    """What a verified token says: who (``identity``) and its times."""

    identity: Identity
    #: when the token was issued (``iat``)
    issued: float
    #: when its session began (``auth_time``)
    started: float
    #: the id of the key that signed it
    key_id: str

    def check_live(self, now: float) -> None:
        """Raise :class:`InvalidToken` unless the token is live at ``now``: issued (give or
        take :data:`CLOCK_SKEW`) and not expired."""
        if now >= self.identity.expires:
            raise InvalidToken("expired")
        if self.issued > now + CLOCK_SKEW:
            raise InvalidToken("issued in the future")


@functools.lru_cache(maxsize=64)  # (a verifier hashes its few keys at every token)
def key_id(key: bytes) -> str:
    """The short public id of ``key`` (a token's ``kid``): 16 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:16]


def issue_token(
    identity: Identity,
    key: bytes,
    *,
    audience: str = DEFAULT_AUDIENCE,
    issued_at: float = 0.0,
    session_start: float | None = None,
) -> str:
    """Sign ``identity`` with ``key`` for ``audience``: a token valid until
    ``identity.expires``, issued at ``issued_at``, of a session begun at ``session_start``
    (default: ``issued_at``). Raises ValueError for a key shorter than 32 bytes, an empty
    audience, or an identity without an expiry.

    The security service gives every argument; the defaults (audience :data:`DEFAULT_AUDIENCE`,
    issued at 0) are for tokens made elsewhere, in tests and tools.
    """
    if not audience:
        raise ValueError("a token needs an audience (the plant)")
    if not (math.isfinite(identity.expires) and identity.expires > issued_at):
        raise ValueError("a token needs an expiry after it is issued")
    claims = {
        "sub": identity.user,
        "roles": sorted(identity.roles),
        "node": identity.node,
        "sid": identity.session,
        "iat": issued_at,
        "exp": identity.expires,
        "auth_time": issued_at if session_start is None else session_start,
        "aud": audience,
        "iss": ISSUER,
    }
    import jwt  # (at the first token, not at start-up: see _pyjwt)

    try:
        return _pyjwt().encode(claims, key, algorithm=ALGORITHM, headers={"kid": key_id(key)})
    except jwt.InvalidKeyError as exc:
        raise ValueError(f"plant key refused: {exc}") from None


def _keys_by_id(keys: bytes | Iterable[bytes]) -> dict[str, bytes]:
    if isinstance(keys, bytes | bytearray):
        keys = [bytes(keys)]
    return {key_id(key): key for key in keys}


def read_token(
    token: str,
    keys: bytes | Iterable[bytes],
    *,
    audience: str = DEFAULT_AUDIENCE,
    now: float | None = None,
) -> Token:
    """The claims of ``token`` signed with one of ``keys`` (the current plant key and the
    previous ones) for ``audience``; raises :class:`InvalidToken` otherwise.

    With ``now``, the token must also be live (issued, not expired). Without it, an expired
    token still reads: logout revokes a session whatever its token's age.
    """
    import jwt  # (at the first token, not at start-up: see _pyjwt)

    pyjwt = _pyjwt()
    by_id = _keys_by_id(keys)
    if not isinstance(token, str):  # it came off the wire: anything is possible
        raise InvalidToken("malformed token")
    current = next(iter(by_id.items()), None)
    if current is not None:
        # The usual token, signed with the current key (the first): PyJWT parses it once
        # and checks everything in the same pass (half the cost: ~30 us instead of ~60).
        # Any other is read the long way below, which says what is wrong with it.
        current_kid, current_key = current
        try:
            decoded = pyjwt.decode_complete(
                token, current_key, algorithms=[ALGORITHM], audience=audience, issuer=ISSUER
            )
        except jwt.PyJWTError:
            pass
        else:
            named = decoded["header"]
            if named.get("kid") == current_kid and named.get("alg") == ALGORITHM:
                return _checked(decoded["payload"], current_kid, now)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("malformed token") from None
    if header.get("alg") != ALGORITHM:
        # checked before the key lookup so that "none" is named as such
        raise InvalidToken(f"algorithm {header.get('alg')!r} not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("token names no key (kid)")
    key = by_id.get(kid)
    if key is None:  # none of our keys made it: as forged as a wrong signature
        raise InvalidToken("bad signature")
    try:
        claims = pyjwt.decode(token, key, algorithms=[ALGORITHM], audience=audience, issuer=ISSUER)
    except jwt.InvalidSignatureError:
        raise InvalidToken("bad signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"missing claim {exc.claim}") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("token of another plant (audience)") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("token of another issuer") from None
    except jwt.PyJWTError:
        raise InvalidToken("malformed token") from None
    return _checked(claims, kid, now)


def _checked(claims: Mapping[str, Any], kid: str, now: float | None) -> Token:
    """The :class:`Token` of verified ``claims``, live at ``now`` (when given)."""
    try:
        result = _claims(claims, kid)
    except OverflowError:  # an integer time too large for a float
        raise InvalidToken("malformed claims") from None
    if now is not None:
        result.check_live(now)
    return result


def _claims(claims: Mapping[str, Any], kid: str) -> Token:
    roles = claims["roles"]
    strings = (claims["sub"], claims["node"], claims["sid"])
    times = (claims["iat"], claims["exp"], claims["auth_time"])
    if (
        not all(isinstance(s, str) for s in strings)
        or not isinstance(roles, list)
        or not all(isinstance(r, str) for r in roles)
        # bool is an int, and a NaN would compare false to every time
        or not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times)
        or not all(math.isfinite(t) for t in times)
    ):
        raise InvalidToken("malformed claims")
    if not claims["sub"]:
        raise InvalidToken("token names no user")
    issued, expires, started = (float(t) for t in times)
    identity = Identity(
        user=claims["sub"],
        roles=frozenset(roles),
        node=claims["node"],
        expires=expires,
        session=claims["sid"],
    )
    return Token(identity, issued=issued, started=started, key_id=kid)


def verify_token(
    token: str,
    keys: bytes | Iterable[bytes],
    now: float,
    *,
    audience: str = DEFAULT_AUDIENCE,
) -> Identity:
    """The identity a live ``token`` proves; raises :class:`InvalidToken` otherwise.

    ``keys``: the plant key, or the current and previous keys (picked by the token's kid).
    """
    return read_token(token, keys, audience=audience, now=now).identity


class Unauthorized(PermissionError):
    """A command may not be carried out; the message is the reason for the operator."""


def authorize_command(
    token: str,
    claimed_user: str,
    tag_name: str,
    *,
    write_roles: frozenset[str],
    key: bytes | Iterable[bytes],
    now: float,
    audience: str = DEFAULT_AUDIENCE,
) -> Identity:
    """Check that ``token`` proves a user allowed to write ``tag_name``; return who it is.

    The roles come from the signed token, never from the command itself, so a crafted
    command that claims ``admin`` gains nothing. Raises :class:`Unauthorized`.
    """
    if not token:
        raise Unauthorized("not logged in (command carries no session token)")
    try:
        identity = verify_token(token, key, now, audience=audience)
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
