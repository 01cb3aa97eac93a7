"""The security service: logins, sessions and the plant key that signs them.

Logins check scrypt hashes from the project file and hand out signed session tokens
(:mod:`hmi.core.identity`); every login, failed login and logout goes to the audit trail.
Nodes that carry out writes verify tokens with the same plant key, so authorization holds
across processes, not only in the GUI.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from hmi.core.identity import Identity, InvalidToken, issue_token, verify_token
from hmi.core.passwords import verify_password
from hmi.project.model import UserConfig
from hmi.services.audit import AuditEntry, AuditLog

#: a session lasts a shift at most; the GUI logs out earlier after idle time
SESSION_SECONDS = 12 * 3600.0


class LoginFailed(PermissionError):
    """Wrong user name or password (deliberately not saying which)."""


def load_or_create_key(path: Path) -> bytes:
    """The plant key at ``path``, created (owner-only) on first use."""
    if path.exists():
        key = path.read_bytes()
        if len(key) < 32:
            raise ValueError(f"{path}: plant key must be at least 32 bytes")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


class Security:
    """Users, sessions and their audit; time comes from ``clock`` (tests pass their own)."""

    def __init__(
        self,
        users: Mapping[str, UserConfig],
        key: bytes,
        audit: AuditLog | None,
        clock: Callable[[], float],
        session_seconds: float = SESSION_SECONDS,
    ) -> None:
        self._users = users
        self._key = key
        self._audit = audit
        self._clock = clock
        self._session_seconds = session_seconds
        self._revoked: set[str] = set()

    def _record(self, user: str, action: str, outcome: str, node: str, reason: str = "") -> None:
        if self._audit is not None:
            self._audit.record(
                AuditEntry(self._clock(), user, action, outcome=outcome, node=node, reason=reason)
            )

    def login(self, user: str, password: str, node: str = "", host: str = "") -> str:
        """A session token for ``user``; raises :class:`LoginFailed` and audits either way."""
        config = self._users.get(user)
        if config is None or not verify_password(password, config.password_hash):
            self._record(user, "login", "denied", node, "wrong user name or password")
            raise LoginFailed("wrong user name or password")
        identity = Identity(
            user=user,
            roles=config.roles,
            node=node,
            expires=self._clock() + self._session_seconds,
            session=secrets.token_hex(8),
        )
        self._record(user, "login", "ok", node, host)
        return issue_token(identity, self._key)

    def verify(self, token: str) -> Identity:
        """The identity of a live session; raises InvalidToken for forged, expired, revoked."""
        identity = verify_token(token, self._key, self._clock())
        if identity.session in self._revoked:
            raise InvalidToken("logged out")
        return identity

    def logout(self, token: str, reason: str = "") -> None:
        """End the session of ``token`` (e.g. the operator logged out, or idle time)."""
        try:
            identity = self.verify(token)
        except InvalidToken:
            return
        self._revoked.add(identity.session)
        self._record(identity.user, "logout", "ok", identity.node, reason)

    def is_revoked(self, session: str) -> bool:
        """True when the session was logged out (writers consult this through RPC)."""
        return session in self._revoked
