"""The security service: logins, sessions and the plant key that signs them.

Logins check argon2id hashes (legacy scrypt ones still verify) from the project file and
hand out short-lived signed session tokens (:mod:`hmi.core.identity`): a token lives
minutes (:data:`~hmi.core.identity.TOKEN_SECONDS`), its session a shift at most
(:data:`SESSION_SECONDS`), and the station renews the token with :meth:`Security.refresh`
while the session lasts. Nodes that carry out writes have tokens verified here, so
authorization holds across processes, not only in the GUI, and a logout ends a session at
once.

A login:

- is refused at once while its user name or its node is locked out by too many failed
  logins (:class:`LoginLimits`);
- checks the password in a worker thread, never on the event loop (the bus keeps moving);
- for a user who does not exist (or has no password), checks it against a dummy hash of
  the same parameters, so it costs what a wrong password costs: the time of the answer
  does not tell whether a user exists, and neither does its message;
- is audited, whatever its outcome; so is every logout.

Sessions need no disk: a login works while the data disk is full. Its audit row then
waits in the audit log's memory (:meth:`~hmi.services.audit.AuditLog.note`) and the
failing store is alarmed; a logout or a disabled user holds at once in memory while
``sessions.json`` cannot be written (also alarmed). Enabling a user is refused unless it
is audited and saved.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hmi.core.identity import (
    DEFAULT_AUDIENCE,
    TOKEN_SECONDS,
    Identity,
    InvalidToken,
    Token,
    issue_token,
    read_token,
)
from hmi.core.passwords import PasswordHashError, dummy_hash, verify_password
from hmi.project.model import UserConfig
from hmi.services.audit import AuditEntry, AuditLog
from hmi.services.health import StoreHealth
from hmi.services.sessions import Disabled, SessionLedger, SessionsUnavailable

#: a session lasts a shift at most; the GUI logs out earlier after idle time
SESSION_SECONDS = 12 * 3600.0
#: password checks in worker threads at once: each argon2id check takes 64 MiB and ~0.1 s of
#: a core, so a flood of logins queues here instead of taking the backend's memory and CPU
HASHING_AT_ONCE = 2

#: tokens remembered as checked (about 1 KiB each): more than the plant's live sessions
CHECKED_TOKENS = 4096

#: user and node names longer than this are cut (nobody's name is this long)
_MAX_NAME = 200
#: what every refused password says: never which of the user name or password was wrong
_REFUSED = "wrong user name or password"


class LoginFailed(PermissionError):
    """Wrong user name or password (deliberately not saying which)."""


class LoginThrottled(LoginFailed):
    """Too many failed logins for this user name or from this node: try again later."""


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Login rate limits, applied per user name and per node alike.

    ``failures`` failed logins within ``window`` seconds lock the user name (or the node)
    for ``lockout`` seconds, doubling with each further lockout up to ``max_lockout``. A
    successful login clears its user name's record; a record is forgotten after ``window``
    seconds without failures once its lockout ended.
    """

    failures: int = 5
    window: float = 300.0
    lockout: float = 30.0
    #: a locked-out operator cannot run the plant: an attacker who keeps failing for a user
    #: keeps it locked, so the lockout stays short (and ``failures`` per 5 min are slow
    #: enough against argon2id hashes of real passwords)
    max_lockout: float = 300.0


@dataclass
class _Record:
    """The recent failed logins of one user name or one node."""

    failures: list[float] = field(default_factory=list)
    #: checks under way: counted with the failures, so parallel guesses are limited too
    pending: int = 0
    locked_until: float = 0.0
    lockouts: int = 0
    last: float = 0.0


class _Throttle:
    """Failure counters with exponential lockout, keyed ``("user", name)``/``("node", id)``."""

    def __init__(self, limits: LoginLimits) -> None:
        self.limits = limits
        self._records: dict[tuple[str, str], _Record] = {}
        self._swept = -math.inf

    def _stale(self, record: _Record, now: float) -> bool:
        """True once a record has nothing left to say: no check under way, its lockout
        over, and a quiet window since (its lockouts no longer double)."""
        last = max(record.locked_until, record.last)
        return not record.pending and now >= last + self.limits.window

    def wait(self, keys: Iterable[tuple[str, str]], now: float) -> tuple[float, str]:
        """Seconds until ``keys`` may try again (0: now), and which one is locked."""
        longest, which = 0.0, ""
        for key in keys:
            record = self._records.get(key)
            if record is None:
                continue
            if self._stale(record, now):
                del self._records[key]
                continue
            left = record.locked_until - now
            recent = sum(1 for t in record.failures if now - t < self.limits.window)
            if left <= 0 and recent + record.pending >= self.limits.failures:
                left = 1.0  # the checks under way decide; they take a fraction of a second
            if left > longest:
                longest, which = left, f"{key[0]} {key[1]!r}"
        return longest, which

    def begin(self, keys: Iterable[tuple[str, str]]) -> None:
        """A password check for ``keys`` starts."""
        for key in keys:
            self._records.setdefault(key, _Record()).pending += 1

    def end(self, keys: Iterable[tuple[str, str]], now: float, ok: bool) -> str:
        """The check ended: clear the user's record on success, count a failure otherwise.
        Says which lockouts the failure started ("" for none)."""
        locked = []
        for key in keys:
            record = self._records.setdefault(key, _Record())
            record.pending = max(0, record.pending - 1)
            if ok:
                if key[0] == "user":
                    record.failures.clear()
                    record.lockouts = 0
                    record.locked_until = 0.0
                continue
            limits = self.limits
            record.failures = [t for t in record.failures if now - t < limits.window] + [now]
            record.last = now
            if len(record.failures) >= limits.failures:
                record.lockouts += 1
                seconds = min(limits.max_lockout, limits.lockout * 2 ** (record.lockouts - 1))
                record.locked_until = now + seconds
                record.failures.clear()
                locked.append(f"{key[0]} {key[1]!r} locked for {seconds:g} s")
        if now >= self._swept + self.limits.window / 10:
            # Every user name tried gets a record: names sprayed by a guesser must not pile up.
            self._swept = now
            for key, record in list(self._records.items()):
                if self._stale(record, now):
                    del self._records[key]
        return "; ".join(locked)


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


def _check_password(password: str, stored: str) -> bool:
    """In a worker thread: does ``password`` match ``stored``? With no stored hash (no such
    user, or no password set) the dummy hash is checked all the same, and the answer is no."""
    if not stored:
        verify_password(password, dummy_hash())
        return False
    return verify_password(password, stored)


class Security:
    """Users, sessions and their audit; time comes from ``clock`` (tests pass their own).

    ``key`` signs new tokens; tokens signed with one of ``previous_keys`` still verify
    (each token names its key), so the plant key can be rotated without logging everyone
    out. ``audience`` is the plant (the project's name): tokens for another are refused.
    """

    def __init__(
        self,
        users: Mapping[str, UserConfig],
        key: bytes,
        audit: AuditLog | None,
        clock: Callable[[], float],
        *,
        audience: str = DEFAULT_AUDIENCE,
        previous_keys: Iterable[bytes] = (),
        session_seconds: float = SESSION_SECONDS,
        token_seconds: float = TOKEN_SECONDS,
        limits: LoginLimits | None = None,
        state: Path | None = None,
        health: StoreHealth | None = None,
    ) -> None:
        if not audience:
            raise ValueError("the security service needs an audience (the plant's name)")
        if token_seconds <= 0 or session_seconds <= 0:
            raise ValueError("tokens and sessions live a positive time")
        self._users = users
        self._key = key
        self._keys = [key, *previous_keys]
        self._audit = audit
        self._clock = clock
        self._audience = audience
        self._session_seconds = session_seconds
        self._token_seconds = token_seconds
        self._throttle = _Throttle(limits or LoginLimits())
        self._hashing = asyncio.Semaphore(HASHING_AT_ONCE)
        #: revoked sessions and disabled users, kept across restarts in ``state``
        self._ledger = SessionLedger(state, health=health)
        #: tokens whose signature and claims were checked: every command and checked RPC
        #: of a session brings the same token, and decoding it again costs ~60 us a time
        self._checked: dict[str, Token] = {}

    def _record(
        self, user: str, action: str, outcome: str, node: str, *, reason: str = "", host: str = ""
    ) -> None:
        """Audit what happened (a login, a logout): it stands whether or not the audit can
        store it now (a row that cannot be stored waits, and the store is alarmed)."""
        if self._audit is not None:
            self._audit.note(
                AuditEntry(
                    self._clock(),
                    user,
                    action,
                    outcome=outcome,
                    node=node,
                    reason=reason,
                    host=host,
                )
            )

    async def login(self, user: str, password: str, node: str = "", host: str = "") -> str:
        """A session token for ``user``; raises :class:`LoginFailed` (or
        :class:`LoginThrottled`) and audits either way.

        ``node`` is the node the user logs in on: logins are rate limited per user name and
        per node. The password is checked in a worker thread.
        """
        if not all(isinstance(text, str) for text in (user, password, node, host)):
            raise TypeError("user, password, node and host are strings")
        # A name far longer than any user's is a guess: one record for all such (and the
        # audit keeps no megabytes of it).
        user = user if len(user) <= _MAX_NAME else f"{user[:_MAX_NAME]}..."
        keys = (("user", user), ("node", node[:_MAX_NAME]))
        wait, locked = self._throttle.wait(keys, self._clock())
        if wait > 0:
            self._record(user, "login", "denied", node, reason=f"rate limited: {locked}", host=host)
            raise LoginThrottled(f"too many failed logins: try again in {math.ceil(wait)} s")
        config = self._users.get(user)
        stored = config.password_hash if config is not None else ""
        ok = False
        self._throttle.begin(keys)
        try:
            async with self._hashing:
                ok = await asyncio.to_thread(_check_password, password, stored)
        except PasswordHashError as exc:
            why = f"unusable password hash: {exc}"
        except ValueError as exc:  # e.g. text argon2 cannot take: refused, and audited
            why = f"password check failed: {type(exc).__name__}"
        else:
            if config is None:
                why = "unknown user"
            elif not stored:
                why = "no password set"
            else:
                why = "wrong password"
        finally:
            # cancelled or not, the attempt counts; a success clears the user's record
            locked = self._throttle.end(keys, self._clock(), ok)
        if ok and user in self._ledger.disabled:
            ok, why = False, "user disabled"  # after the check: costs what a refusal costs
        if not ok or config is None:
            reason = f"{why}; {locked}" if locked else why
            self._record(user, "login", "denied", node, reason=reason, host=host)
            raise LoginFailed(_REFUSED)
        now = self._clock()
        session = secrets.token_hex(16)
        token = self._issue(user, config.roles, node, session=session, started=now, now=now)
        self._record(user, "login", "ok", node, host=host)
        return token

    def _issue(
        self,
        user: str,
        roles: frozenset[str],
        node: str,
        *,
        session: str,
        started: float,
        now: float,
    ) -> str:
        expires = min(now + self._token_seconds, started + self._session_seconds)
        identity = Identity(user, roles, node, expires, session)
        return issue_token(
            identity, self._key, audience=self._audience, issued_at=now, session_start=started
        )

    def read(self, token: str) -> Token:
        """The claims of a live session's token; raises InvalidToken for a forged, expired or
        revoked one, or one of another plant."""
        now = self._clock()
        claims = self._checked.get(token) if isinstance(token, str) else None
        if claims is None:
            claims = read_token(token, self._keys, audience=self._audience, now=now)
            if len(self._checked) >= CHECKED_TOKENS:
                del self._checked[next(iter(self._checked))]  # the oldest
            self._checked[token] = claims
        else:
            claims.check_live(now)  # the signature holds for good; the time does not
        session = claims.identity.session
        if not session:
            raise InvalidToken("token of no session")  # it could never be revoked
        if self._ledger.is_revoked(session):
            raise InvalidToken("logged out")
        if claims.identity.user in self._ledger.disabled:
            raise InvalidToken("user disabled")
        return claims

    def verify(self, token: str) -> Identity:
        """The identity of a live session; raises InvalidToken for forged, expired, revoked."""
        return self.read(token).identity

    def refresh(self, token: str) -> str:
        """A new token for the live session of ``token``, with the user's roles of now.

        Refused (InvalidToken) when the token is not live, its session was logged out or
        is past its end (:data:`SESSION_SECONDS` after the login), or its user is gone.
        """
        claims = self.read(token)
        now = self._clock()
        who = claims.identity
        if now >= claims.started + self._session_seconds:
            raise InvalidToken("session ended: log in again")
        config = self._users.get(who.user)
        if config is None:
            raise InvalidToken("user no longer exists")
        return self._issue(
            who.user, config.roles, who.node, session=who.session, started=claims.started, now=now
        )

    def logout(self, token: str, reason: str = "") -> None:
        """End the session of ``token`` (e.g. the operator logged out, or idle time).

        An expired token still ends its session; a forged or malformed one, or a session
        logged out already, changes nothing. Audited in every case.
        """
        now = self._clock()
        try:
            # no ``now``: the session ends whatever the age of the token that asks
            claims = read_token(token, self._keys, audience=self._audience)
        except InvalidToken as exc:
            self._record("", "logout", "denied", "", reason=f"invalid token: {exc}")
            return
        who = claims.identity
        if not who.session or self._ledger.is_revoked(who.session):
            why = "logged out already" if who.session else "token of no session"
            self._record(who.user, "logout", "denied", who.node, reason=why)
            return
        # Kept until no token of the session can be live: the end of the session, or the
        # token's expiry for tokens not made here.
        until = max(who.expires, claims.started + self._session_seconds)
        self._ledger.revoke(who.session, until, now)
        self._record(who.user, "logout", "ok", who.node, reason=reason)

    def is_revoked(self, session: str) -> bool:
        """True when the session was logged out (writers consult this through RPC)."""
        return self._ledger.is_revoked(session)

    def disable(self, user: str, by: str, reason: str = "") -> None:
        """Refuse ``user`` at once: logins, renewals and every live token of theirs (each
        writer verifies every command here, so the next one is refused). Audited."""
        if user not in self._users:
            raise KeyError(f"no user {user!r}")
        self._ledger.disable(user, Disabled(by, self._clock(), reason))
        self._record(user, "disable user", "ok", "", reason=f"by {by}: {reason}".strip(": "))

    def enable(self, user: str, by: str) -> bool:
        """Let a disabled ``user`` log in again; False when they were not disabled.

        Fail-closed: the audit row is stored first (else AuditUnavailable) and the change
        saved (else SessionsUnavailable); either failure leaves the user disabled.
        """
        if user not in self._ledger.disabled:
            self._record(user, "enable user", "unchanged", "", reason=f"by {by}")
            return False
        if self._audit is not None:
            entry = AuditEntry(self._clock(), user, "enable user", outcome="ok", reason=f"by {by}")
            self._audit.record(entry)
        try:
            return self._ledger.enable(user)
        except SessionsUnavailable as exc:
            self._record(user, "enable user", "failed", "", reason=f"by {by}: {exc}")
            raise

    def retry_saving(self) -> bool:
        """Save logouts and disabled users held in memory only (the file could not be
        written); True when nothing is left unsaved."""
        return self._ledger.retry()

    def disabled_users(self) -> dict[str, Disabled]:
        """The users disabled now, and by whom, since when and why."""
        return dict(self._ledger.disabled)
