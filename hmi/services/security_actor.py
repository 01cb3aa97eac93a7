"""The security service on the bus (RPC target ``security``) and the audit recorder.

RPC::

    session = await bus.call("security", "login", "olga", "secret", node="hmi-1")
    # -> {"token": ..., "user": "olga", "roles": ["operator"], "node": "hmi-1",
    #     "issued": ..., "expires": ...}   (expires: minutes after issued)
    session = await bus.call("security", "refresh", session["token"])  # before it expires
    await bus.call("security", "verify", token)      # the same dict, or RemoteError
    await bus.call("security", "logout", token, reason="idle")

The :class:`AuditRecorder` pairs every ``cmd/<tag>`` with its ``result/<tag>`` and writes
one audit row per write attempt (confirmed, rejected, failed or timed out), with the user
the command's token proves, not the one it claims. Events of other nodes arrive on
``audit/...`` and are recorded too: GUI-side refusals (``audit/write``), RPC calls refused
on nodes without the audit log (``audit/refused``), device edits (``audit/edit``). These
rows are of things that happened: one the store cannot take waits in memory (bounded) and
is written when it can (:meth:`~hmi.services.audit.AuditLog.note`).

A result comes after the write, too late to refuse it. So a writer asks first:
``audit.intend(command)`` (the ``cmd/`` payload, :func:`hmi.bus.wire.messages.encode_command`)
stores a ``requested`` row in the user the command's token proves, committed before it
answers; the writer carries the command out only after that answer, and rejects it with
the error's text otherwise (``audit unavailable: database or disk is full``). Every write
that reaches a device then has its row, whatever happens to the backend afterwards.

RPC target ``audit``: ``intend(command)`` for writers (no permission: the command's own
session is verified); ``recent(limit=500)`` needs ``read_audit``; ``export(since=None,
until=None, as_csv=False)`` needs ``export_audit`` and returns the rows (or CSV text) for
the caller to save on its own machine: the backend never writes a file a caller names.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from hmi.bus import Actor, expose
from hmi.bus.wire.messages import decode_command, decode_result
from hmi.bus.wire.samples import MalformedPayload
from hmi.core.command import Command
from hmi.core.identity import Identity, InvalidToken, Token
from hmi.core.passwords import dummy_hash
from hmi.core.permissions import Permission
from hmi.services.audit import AuditEntry, AuditLog, csv_text, entry_from_event
from hmi.services.security import Security

log = logging.getLogger(__name__)

#: a command without a result after this long is audited as timed out
RESULT_TIMEOUT = 30.0
#: the most rows ``recent`` returns
MAX_RECENT = 10_000
#: the most rows one ``export`` returns (a longer trail is exported in time ranges)
MAX_EXPORT = 1_000_000
#: seconds between attempts to save what a full disk keeps in memory (sessions, audit rows)
SAVE_RETRY = 10.0
#: command ids whose intent is remembered (a second ``intend`` of one adds no row)
MAX_INTENDED = 100_000
#: what an intent row's ``outcome`` says: the writer was cleared to carry it out
REQUESTED = "requested"


def _session(claims: Token, token: str) -> dict[str, Any]:
    identity = claims.identity
    return {
        "token": token,
        "user": identity.user,
        "roles": sorted(identity.roles),
        "node": identity.node,
        # both from the backend's clock: ``expires - issued`` is the token's life, whatever
        # the clock of the station that renews it says
        "issued": claims.issued,
        "expires": identity.expires,
    }


class SecurityActor(Actor):
    """Logins, token renewals, logouts and token checks for every node of the plant."""

    name = "security"

    def __init__(self, security: Security, name: str | None = None) -> None:
        super().__init__(name)
        self.security = security

    async def setup(self) -> None:
        """Make the dummy hash now, off the loop: the first login of an unknown user must
        not take longer than a wrong password (by the time that making it takes)."""
        await asyncio.to_thread(dummy_hash)

    async def run(self) -> None:
        """Save logouts and disabled users that a full disk keeps in memory, when it can."""
        while not self.stopping:
            await self.clock.sleep(SAVE_RETRY)
            self.security.retry_saving()

    @expose
    async def login(
        self, user: str, password: str, node: str = "", host: str = ""
    ) -> dict[str, Any]:
        """A session for ``user``; raises (remotely: RemoteError LoginFailed, or
        LoginThrottled after too many failures) when refused. The password is checked in
        a worker thread: the bus keeps moving meanwhile."""
        # The session is bound to the node the broker says the call came from, never the
        # one the caller names (which only counts for this process's own calls).
        sender = self.bus.current_sender
        token = await self.security.login(
            user, password, node=sender if sender is not None else node, host=host
        )
        return _session(self.security.read(token), token)

    @expose(permission=Permission.MANAGE_USERS)
    def disable_user(self, user: str, reason: str = "", *, identity: Identity) -> None:
        """Refuse ``user`` at once everywhere: logins, renewals, every live session's next
        command (writers verify each one here). Needs ``manage_users``."""
        self.security.disable(user, identity.user, reason)

    @expose(permission=Permission.MANAGE_USERS)
    def enable_user(self, user: str, *, identity: Identity) -> bool:
        """Let a disabled ``user`` log in again. Needs ``manage_users``."""
        return self.security.enable(user, identity.user)

    @expose(permission=Permission.MANAGE_USERS)
    def disabled_users(self, *, identity: Identity) -> dict[str, dict[str, Any]]:
        """The users disabled now: ``{user: {by, since, reason}}``."""
        return {user: dataclasses.asdict(d) for user, d in self.security.disabled_users().items()}

    @expose
    def refresh(self, token: str) -> dict[str, Any]:
        """A new token for the same session (the same dict as login); raises InvalidToken
        when the session was logged out, is past its end, or its user is gone."""
        renewed = self.security.refresh(token)
        return _session(self.security.read(renewed), renewed)

    @expose
    def verify(self, token: str) -> dict[str, Any]:
        """The session ``token`` proves; raises InvalidToken when forged, expired or revoked."""
        return _session(self.security.read(token), token)

    @expose
    def logout(self, token: str, reason: str = "") -> None:
        """End a session (audited)."""
        self.security.logout(token, reason)


@dataclass
class _Pending:
    command: Command
    user: str
    since: float


class AuditRecorder(Actor):
    """Writes one audit row per write attempt, from the bus traffic of commands."""

    name = "audit"

    def __init__(self, audit: AuditLog, security: Security, name: str | None = None) -> None:
        super().__init__(name)
        self.audit = audit
        self.security = security
        #: command id -> the commands of that id waiting for a result, first come first
        #: paired (a replayed copy carries the original's id and gets a result of its own)
        self._pending: dict[str, list[_Pending]] = {}
        #: command id -> the verified user of its intent row (oldest first, bounded)
        self._intended: OrderedDict[str, str] = OrderedDict()
        self.malformed = 0

    async def setup(self) -> None:
        """Listen to commands, results and GUI-side audit events."""
        self.subscribe("cmd/#", self._on_command)
        self.subscribe("result/#", self._on_result)
        self.subscribe("audit/#", self._on_event)

    async def run(self) -> None:
        """Audit commands that never got a result as timed out; write rows that wait."""
        while not self.stopping:
            await self.clock.sleep(min(RESULT_TIMEOUT / 3, SAVE_RETRY))
            self.audit.retry()
            now = self.clock.time()
            for key, waiting in list(self._pending.items()):
                while waiting and now - waiting[0].since >= RESULT_TIMEOUT:
                    pending = waiting.pop(0)
                    self._record(pending, "timed_out", "no result from the device driver", now)
                if not waiting:
                    del self._pending[key]

    @expose
    def intend(self, command: Any) -> dict[str, Any]:
        """Record a write before it is carried out; the writer goes ahead only after this
        answers (see the module docstring).

        ``command`` is the ``cmd/`` payload. The row is in the user its token proves
        (InvalidToken otherwise), with outcome ``requested``, committed before returning;
        AuditUnavailable (``audit unavailable: <why>``) when it cannot be stored. Asked
        again for the same command id, it answers as before without a second row.
        Returns ``{"id": <command id>, "user": <verified user>}``.
        """
        try:
            cmd = decode_command(command)
        except MalformedPayload as exc:
            raise ValueError(str(exc)) from None
        done = self._intended.get(cmd.id)
        if done is not None:
            return {"id": cmd.id, "user": done}
        user = self.security.verify(cmd.token).user  # raises InvalidToken
        self.audit.record(
            AuditEntry(
                time=cmd.time or self.clock.time(),
                user=user,
                action="write",
                target=cmd.tag,
                old_value=cmd.old_value,
                new_value=cmd.value,
                outcome=REQUESTED,
                reason=cmd.reason,
                node=cmd.node,
                screen=cmd.screen,
            )
        )
        self._intended[cmd.id] = user
        if len(self._intended) > MAX_INTENDED:
            self._intended.popitem(last=False)
        return {"id": cmd.id, "user": user}

    @expose(permission=Permission.READ_AUDIT)
    def recent(self, limit: int = 500) -> list[dict[str, Any]]:
        """The newest ``limit`` audit rows (at most ``MAX_RECENT``), oldest first, as dicts."""
        rows = self.audit.newest(min(_count(limit, "limit"), MAX_RECENT))
        return [dataclasses.asdict(row) for row in rows]

    @expose(permission=Permission.EXPORT_AUDIT)
    def export(
        self,
        since: float | None = None,
        until: float | None = None,
        as_csv: bool = False,
        limit: int = MAX_EXPORT,
        *,
        identity: Identity,
    ) -> list[dict[str, Any]] | str:
        """The audit rows from ``since`` to ``until`` (POSIX seconds; None: open), in time
        order, at most ``limit``: a list of dicts, or CSV text with ``as_csv``. The caller
        saves them where it likes, on its own machine; the export itself is audited."""
        since, until = _time(since, "since"), _time(until, "until")
        rows = self.audit.query(since, until, limit=min(_count(limit, "limit"), MAX_EXPORT))
        self.audit.record(
            AuditEntry(
                self.clock.time(),
                identity.user,
                f"{self.name}.export",
                target=self.name,
                new_value={"since": since, "until": until, "rows": len(rows)},
                outcome="ok",
                node=identity.node,
            )
        )
        if as_csv:
            return csv_text(rows)
        return [dataclasses.asdict(row) for row in rows]

    def _on_command(self, topic: str, payload: Any) -> None:
        try:
            command = decode_command(payload)
        except MalformedPayload:
            self.malformed += 1
            return
        try:
            user = self.security.verify(command.token).user
        except InvalidToken as exc:
            # Keep what it claimed, marked: the driver rejects it; the audit shows who tried.
            user = f"{command.user or '?'} (unverified: {exc})"
        pending = _Pending(command, user, self.clock.time())
        self._pending.setdefault(command.id, []).append(pending)

    def _on_result(self, topic: str, payload: Any) -> None:
        try:
            result = decode_result(payload)
        except MalformedPayload:
            self.malformed += 1
            return
        waiting = self._pending.get(result.id)
        if waiting:
            pending = waiting.pop(0)
            if not waiting:
                del self._pending[result.id]
            self._record(pending, result.state.value, result.message, result.time)

    def _on_event(self, topic: str, payload: Any) -> None:
        """An event of another node (``audit/write``, ``audit/refused``, ``audit/edit``)."""
        if not isinstance(payload, dict):
            self.malformed += 1
            return
        event = {"action": topic.removeprefix("audit/"), **payload}
        self.audit.note(entry_from_event(event, self.clock.time()))

    def _record(self, pending: _Pending, outcome: str, reason: str, when: float) -> None:
        """The outcome row of a write: it happened, so it waits if it cannot be stored."""
        command = pending.command
        self.audit.note(
            AuditEntry(
                time=command.time or when,
                user=pending.user,
                action="write",
                target=command.tag,
                old_value=command.old_value,
                new_value=command.value,
                outcome=outcome,
                reason=reason or command.reason,
                node=command.node,
                screen=command.screen,
            )
        )


def _count(value: Any, name: str) -> int:
    """A row count from a caller: a non-negative int, else TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer")
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def _time(value: Any, name: str) -> float | None:
    """A time bound from a caller: POSIX seconds or None (a path is no time)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be POSIX seconds or None")
    return float(value)
