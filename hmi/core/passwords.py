"""Password hashes for project files: scrypt, self-describing, compared in constant time.

Format: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``. Only the hash is ever stored; the
salt is passed in (the caller draws it from ``secrets``) so this module stays pure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SCHEME = "scrypt"
#: 2**14 costs ~16 MiB and ~50 ms: slow for guessing, quick enough for a login
N, R, P = 2**14, 8, 1
_LENGTH = 32


class PasswordHashError(ValueError):
    """A stored hash is not in the expected format."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: bytes, n: int = N, r: int = R, p: int = P) -> str:
    """The storable hash of ``password`` with ``salt`` (16 random bytes or more)."""
    if len(salt) < 16:
        raise ValueError("salt must be at least 16 bytes")
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=_LENGTH
    )
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for an empty stored hash."""
    if not stored:
        return False
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise PasswordHashError("expected scrypt$N$r$p$salt$hash")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except ValueError as exc:
        raise PasswordHashError(f"malformed password hash: {exc}") from None
    candidate = hash_password(password, salt, n, r, p).rsplit("$", 1)[1]
    return hmac.compare_digest(base64.b64decode(candidate), expected)


def is_password_hash(text: str) -> bool:
    """True when ``text`` looks like a hash of this module (for project file validation)."""
    parts = text.split("$")
    return len(parts) == 6 and parts[0] == SCHEME and all(parts[1:4]) and parts[1].isdigit()
