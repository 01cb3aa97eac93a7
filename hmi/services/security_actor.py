"""The security service on the bus (RPC target ``security``) and the audit recorder.

RPC::

    session = await bus.call("security", "login", "olga", "secret", node="hmi-1")
    # -> {"token": ..., "user": "olga", "roles": ["operator"], "expires": ...}
    await bus.call("security", "verify", token)      # the same dict, or RemoteError
    await bus.call("security", "logout", token, reason="idle")

The :class:`AuditRecorder` pairs every ``cmd/<tag>`` with its ``result/<tag>`` and writes
one audit row per write attempt (confirmed, rejected, failed or timed out), with the user
the command's token proves, not the one it claims. GUI-side refusals arrive as
``audit/write`` events and are recorded too.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from hmi.bus import Actor, expose
from hmi.bus.messages import decode_command, decode_result
from hmi.bus.samples import MalformedPayload
from hmi.core.command import Command
from hmi.core.identity import Identity, InvalidToken
from hmi.services.audit import AuditEntry, AuditLog
from hmi.services.security import Security

log = logging.getLogger(__name__)

#: a command without a result after this long is audited as timed out
RESULT_TIMEOUT = 30.0


def _session(identity: Identity, token: str) -> dict[str, Any]:
    return {
        "token": token,
        "user": identity.user,
        "roles": sorted(identity.roles),
        "expires": identity.expires,
        "node": identity.node,
    }


class SecurityActor(Actor):
    """Logins, logouts and token checks for every node of the plant."""

    name = "security"

    def __init__(self, security: Security, name: str | None = None) -> None:
        super().__init__(name)
        self.security = security

    @expose
    def login(self, user: str, password: str, node: str = "", host: str = "") -> dict[str, Any]:
        """A session for ``user``; raises (remotely: RemoteError LoginFailed) when refused."""
        token = self.security.login(user, password, node=node, host=host)
        return _session(self.security.verify(token), token)

    @expose
    def verify(self, token: str) -> dict[str, Any]:
        """The session ``token`` proves; raises InvalidToken when forged, expired or revoked."""
        return _session(self.security.verify(token), token)

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
        self._pending: dict[str, _Pending] = {}
        self.malformed = 0

    async def setup(self) -> None:
        """Listen to commands, results and GUI-side audit events."""
        self.subscribe("cmd/#", self._on_command)
        self.subscribe("result/#", self._on_result)
        self.subscribe("audit/#", self._on_event)

    async def run(self) -> None:
        """Audit commands that never got a result as timed out."""
        while not self.stopping:
            await self.clock.sleep(RESULT_TIMEOUT / 3)
            now = self.clock.time()
            for key, pending in list(self._pending.items()):
                if now - pending.since >= RESULT_TIMEOUT:
                    del self._pending[key]
                    self._record(pending, "timed_out", "no result from the device driver", now)

    @expose
    def recent(self, limit: int = 500) -> list[dict[str, Any]]:
        """The newest ``limit`` audit rows, oldest first, as plain dicts."""
        rows = self.audit.query(since=None, limit=1_000_000)[-limit:]
        return [dataclasses.asdict(row) for row in rows]

    @expose
    def export_csv(self, path: str) -> int:
        """Write the whole audit trail as CSV to ``path`` (on this node); the row count."""
        with open(path, "w", newline="", encoding="utf-8") as out:
            return self.audit.export_csv(out)

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
        self._pending[command.id] = _Pending(command, user, self.clock.time())

    def _on_result(self, topic: str, payload: Any) -> None:
        try:
            result = decode_result(payload)
        except MalformedPayload:
            self.malformed += 1
            return
        pending = self._pending.pop(result.id, None)
        if pending is not None:
            self._record(pending, result.state.value, result.message, result.time)

    def _on_event(self, topic: str, payload: Any) -> None:
        if not isinstance(payload, dict):
            self.malformed += 1
            return
        self.audit.record(
            AuditEntry(
                time=float(payload.get("time") or self.clock.time()),
                user=str(payload.get("user", "")),
                action=str(payload.get("action", topic.removeprefix("audit/"))),
                target=str(payload.get("target", "")),
                old_value=payload.get("old_value"),
                new_value=payload.get("new_value"),
                outcome=str(payload.get("outcome", "")),
                reason=str(payload.get("reason", "")),
                host=str(payload.get("host", "")),
                node=str(payload.get("node", "")),
                screen=str(payload.get("screen", "")),
            )
        )

    def _record(self, pending: _Pending, outcome: str, reason: str, when: float) -> None:
        command = pending.command
        self.audit.record(
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
