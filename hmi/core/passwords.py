"""Password hashes for project files: argon2id (argon2-cffi), self-describing, bounded.

New hashes are argon2id in the PHC string format, e.g.
``$argon2id$v=19$m=65536,t=3,p=4$<salt b64>$<hash b64>``, made with :data:`PARAMETERS`
(argon2-cffi's RFC 9106 low-memory profile). Hashes of the scrypt scheme this project
used before (``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``) still verify, and
:func:`needs_rehash` says they should be replaced (``hmi passwd`` writes argon2id).

A project file is input, not code of ours: the cost parameters written in a stored hash are
checked against :data:`ARGON2_LIMITS` and :data:`SCRYPT_LIMITS` *before* any hashing, so a
hostile hash cannot make a login take seconds or gigabytes (:class:`PasswordHashError`).

Only the hash is ever stored; the salt is passed in (the caller draws it from
``secrets``) so this module stays pure.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass

from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import ARGON2_VERSION, hash_secret

SCHEME = "argon2id"
LEGACY_SCHEME = "scrypt"

#: argon2-cffi's RFC 9106 "second recommended option" (low memory): argon2id, 64 MiB,
#: 3 passes, 4 lanes, 16-byte salt, 32-byte hash; about 0.1 s here. The first RFC option
#: (2 GiB) is too much for a login service on an operator's PC.
PARAMETERS: Parameters = profiles.RFC_9106_LOW_MEMORY


@dataclass(frozen=True, slots=True)
class Argon2Limits:
    """The most an argon2id hash read from a project file may ask for."""

    #: KiB; four times the default's 64 MiB
    memory: int = 256 * 1024
    time: int = 10
    parallelism: int = 8
    #: memory x passes (KiB): the work of one verify, four times the default's
    work: int = 4 * 64 * 1024 * 3
    salt_bytes: tuple[int, int] = (8, 64)
    hash_bytes: tuple[int, int] = (16, 64)


@dataclass(frozen=True, slots=True)
class ScryptLimits:
    """The most a (legacy) scrypt hash read from a project file may ask for."""

    n: int = 2**17
    r: int = 16
    p: int = 4
    #: 128 * n * r bytes of memory: 128 MiB
    memory: int = 128 * 1024 * 1024
    #: n * r * p: eight times what the old default (2**14, 8, 1) cost
    work: int = 2**20
    salt_bytes: tuple[int, int] = (16, 64)
    hash_bytes: tuple[int, int] = (16, 64)


ARGON2_LIMITS = Argon2Limits()
SCRYPT_LIMITS = ScryptLimits()

#: no stored hash is longer than this (the limits above give at most ~200 characters)
_MAX_TEXT = 512
_ARGON2 = re.compile(
    r"\$argon2id\$v=(?P<v>[0-9]{1,3})\$m=(?P<m>0|[1-9][0-9]{0,9}),t=(?P<t>0|[1-9][0-9]{0,9}),"
    r"p=(?P<p>0|[1-9][0-9]{0,9})\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)
_SCRYPT = re.compile(
    r"scrypt\$(?P<n>[1-9][0-9]{0,9})\$(?P<r>[1-9][0-9]{0,9})\$(?P<p>[1-9][0-9]{0,9})"
    r"\$(?P<salt>[A-Za-z0-9+/]+={0,2})\$(?P<hash>[A-Za-z0-9+/]+={0,2})"
)


class PasswordHashError(ValueError):
    """A stored hash is malformed, of an unknown scheme, or asks for too much work."""


@dataclass(frozen=True, slots=True)
class _Scrypt:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def _unb64(text: str) -> bytes:
    """Standard base64 with or without padding (PHC strings leave it out)."""
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _within(what: str, size: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= size <= high:
        raise PasswordHashError(f"{what} of {size} bytes, expected {low} to {high}")


def _argon2_parameters(stored: str) -> Parameters:
    """The parameters of an argon2id hash, checked against :data:`ARGON2_LIMITS`."""
    match = _ARGON2.fullmatch(stored)
    if match is None:
        raise PasswordHashError("expected $argon2id$v=19$m=...,t=...,p=...$salt$hash")
    version, memory, time, lanes = (int(match[k]) for k in ("v", "m", "t", "p"))
    try:
        salt, digest = _unb64(match["salt"]), _unb64(match["hash"])
    except (binascii.Error, ValueError):
        raise PasswordHashError("argon2id hash: salt or hash is not base64") from None
    limits = ARGON2_LIMITS
    if version != ARGON2_VERSION:
        raise PasswordHashError(f"argon2id hash: version {version}, expected {ARGON2_VERSION}")
    if not 1 <= lanes <= limits.parallelism:
        raise PasswordHashError(
            f"argon2id hash: parallelism p={lanes}, expected 1 to {limits.parallelism}"
        )
    if not 1 <= time <= limits.time:
        raise PasswordHashError(f"argon2id hash: time cost t={time}, expected 1 to {limits.time}")
    if not 8 * lanes <= memory <= limits.memory:
        raise PasswordHashError(
            f"argon2id hash: memory m={memory} KiB, expected {8 * lanes} to {limits.memory} KiB"
        )
    if memory * time > limits.work:
        raise PasswordHashError(
            f"argon2id hash: work m*t={memory * time} KiB above the limit of {limits.work} KiB"
        )
    _within("argon2id hash: salt", len(salt), limits.salt_bytes)
    _within("argon2id hash: hash", len(digest), limits.hash_bytes)
    return Parameters(
        type=Type.ID,
        version=version,
        salt_len=len(salt),
        hash_len=len(digest),
        time_cost=time,
        memory_cost=memory,
        parallelism=lanes,
    )


def _scrypt_parameters(stored: str) -> _Scrypt:
    """The parameters of a legacy scrypt hash, checked against :data:`SCRYPT_LIMITS`."""
    match = _SCRYPT.fullmatch(stored)
    if match is None:
        raise PasswordHashError("expected scrypt$N$r$p$salt$hash")
    n, r, p = int(match["n"]), int(match["r"]), int(match["p"])
    try:
        salt, digest = _unb64(match["salt"]), _unb64(match["hash"])
    except (binascii.Error, ValueError):
        raise PasswordHashError("scrypt hash: salt or hash is not base64") from None
    limits = SCRYPT_LIMITS
    if n < 2 or n & (n - 1) or n > limits.n:
        raise PasswordHashError(f"scrypt hash: N={n}, expected a power of two up to {limits.n}")
    if r > limits.r:
        raise PasswordHashError(f"scrypt hash: r={r} above the limit of {limits.r}")
    if p > limits.p:
        raise PasswordHashError(f"scrypt hash: p={p} above the limit of {limits.p}")
    if 128 * n * r > limits.memory:
        raise PasswordHashError(
            f"scrypt hash: 128*N*r={128 * n * r} bytes above the limit of {limits.memory}"
        )
    if n * r * p > limits.work:
        raise PasswordHashError(f"scrypt hash: N*r*p={n * r * p} above the limit of {limits.work}")
    _within("scrypt hash: salt", len(salt), limits.salt_bytes)
    _within("scrypt hash: hash", len(digest), limits.hash_bytes)
    return _Scrypt(n, r, p, salt, digest)


def check_password_hash(stored: str) -> None:
    """Raise :class:`PasswordHashError` saying why ``stored`` cannot be verified (malformed,
    unknown scheme, or parameters above the limits); return when it can."""
    if len(stored) > _MAX_TEXT:
        raise PasswordHashError(f"password hash of {len(stored)} characters is too long")
    if stored.startswith(f"${SCHEME}$"):
        _argon2_parameters(stored)
    elif stored.startswith(f"{LEGACY_SCHEME}$"):
        _scrypt_parameters(stored)
    else:
        raise PasswordHashError(f"unknown password hash scheme (expected {SCHEME} or scrypt)")


def is_password_hash(text: str) -> bool:
    """True when ``text`` is a hash :func:`verify_password` accepts (for project file
    validation): argon2id or legacy scrypt, well-formed and within the limits."""
    try:
        check_password_hash(text)
    except PasswordHashError:
        return False
    return True


def hash_password(password: str, salt: bytes, parameters: Parameters = PARAMETERS) -> str:
    """The storable argon2id hash of ``password`` with ``salt`` (16 random bytes or more)."""
    if len(salt) < 16:
        raise ValueError("salt must be at least 16 bytes")
    if parameters.type is not Type.ID:
        raise ValueError(f"new hashes are argon2id, not {parameters.type.name}")
    stored = hash_secret(
        password.encode("utf-8"),
        salt,
        time_cost=parameters.time_cost,
        memory_cost=parameters.memory_cost,
        parallelism=parameters.parallelism,
        hash_len=parameters.hash_len,
        type=Type.ID,
        version=parameters.version,
    ).decode("ascii")
    check_password_hash(stored)  # never write a hash that the limits would refuse to verify
    return stored


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for an empty stored hash.

    Raises :class:`PasswordHashError` before any hashing when ``stored`` is malformed or
    asks for more work than the limits allow.
    """
    if not stored:
        return False
    check_password_hash(stored)
    if stored.startswith(f"${SCHEME}$"):
        try:
            return _HASHER.verify(stored, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError) as exc:
            raise PasswordHashError(f"argon2id hash: {exc}") from None
    legacy = _scrypt_parameters(stored)
    candidate = hashlib.scrypt(
        password.encode("utf-8"),
        salt=legacy.salt,
        n=legacy.n,
        r=legacy.r,
        p=legacy.p,
        maxmem=2 * SCRYPT_LIMITS.memory,  # the limits above already bound it
        dklen=len(legacy.digest),
    )
    return hmac.compare_digest(candidate, legacy.digest)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` is not an argon2id hash with the current :data:`PARAMETERS`
    (a legacy scrypt hash, or older argon2id parameters): set the password again."""
    if not stored.startswith(f"${SCHEME}$"):
        return True
    return _argon2_parameters(stored) != PARAMETERS


@functools.cache
def dummy_hash() -> str:
    """A hash with the current :data:`PARAMETERS` that no login is meant to match.

    Unknown users are verified against it, so a login for a user who does not exist does
    the same work, and takes the same time, as one with a wrong password. The salt need not
    be secret: nothing is granted when this hash matches. Computed once (about 0.1 s).
    """
    return hash_password("no user has this password", b"hmi: dummy salt.", PARAMETERS)


#: verifies argon2id hashes of any parameters (bounded above by the caller)
_HASHER = PasswordHasher.from_parameters(PARAMETERS)
