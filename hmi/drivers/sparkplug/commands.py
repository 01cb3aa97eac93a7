"""DCMD writes through the same door as an operator's: ``cmd/<tag>`` with a session token.

MQTT tells an edge node nothing it could trust about who published a DCMD: whoever the
MQTT broker lets publish on ``spBv1.0/<group>/DCMD/<edge node>/...`` may send one (the
broker's ACL is the MQTT side's door). So a DCMD is never carried out on its own
authority. The project names the user DCMDs are made as (``sparkplug.commands.user``);
the gate logs in as that user at the security service and publishes each write as a
:class:`~hmi.core.command.Command` on ``cmd/<tag>`` with the session's token. The writers
check it exactly as they check an operator's (token, replay, grants: a role with
``write`` and one of the tag's ``write_roles``), and the audit recorder writes its row from
the command and its result, whatever the outcome.

Refused here, before the bus (deny by default), and audited as ``denied``: every DCMD
when the project names no user; a metric that is not one of the published tags; a
session that cannot be had (wrong password, security service unreachable).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from hmi.bus import Bus
from hmi.bus.wire.messages import encode_command
from hmi.core.command import Command
from hmi.core.sample import Value
from hmi.drivers.sparkplug.session import ServiceSession, SessionUnavailable, node_id

log = logging.getLogger(__name__)

#: what a command from a DCMD says in the audit trail's ``screen``
SCREEN = "sparkplug DCMD"

#: ``audit(event)``: record an audit event (a dict of AuditEntry fields)
Audit = Callable[[dict[str, Any]], None]


class CommandGate:
    """Turns DCMD writes into ``cmd/`` commands of the service user, or refuses them."""

    def __init__(
        self,
        bus: Bus,
        session: ServiceSession | None,
        *,
        published: Callable[[str], bool],
        audit: Audit,
        origin: str,
        old_value: Callable[[str], Value] = lambda tag: None,
    ) -> None:
        self.bus = bus
        self.session = session
        self.published = published
        self.audit = audit
        #: where DCMDs come from, for the audit trail (the MQTT broker's address)
        self.origin = origin
        self.old_value = old_value
        self.sent = 0
        self.refused = 0

    async def write(self, tag: str, value: Value) -> Command | None:
        """Publish the write of ``value`` to ``tag``; None (refused, audited) when it may
        not even be asked."""
        if self.session is None:
            self.refuse(tag, value, "DCMD writes are not enabled (no sparkplug.commands.user)")
            return None
        if not self.published(tag):
            self.refuse(tag, value, f"{tag} is not a published tag")
            return None
        try:
            token = await self.session.token()
        except SessionUnavailable as exc:
            self.refuse(tag, value, f"cannot write as {self.session.user}: {exc}")
            return None
        command = Command(
            id=f"sparkplug-{uuid.uuid4().hex}",
            tag=tag,
            value=value,
            user=self.session.user,
            node=node_id(self.bus),
            screen=SCREEN,
            old_value=self.old_value(tag),
            time=self.bus.clock.time(),
            token=token,
            reason=f"Sparkplug DCMD via {self.origin}",
        )
        self.bus.publish(f"cmd/{tag}", encode_command(command))
        self.sent += 1
        return command

    def refuse(self, tag: str, value: Value, why: str) -> None:
        """Audit a DCMD write refused before it reached a writer."""
        self.refused += 1
        log.warning("sparkplug: DCMD write of %s refused: %s", tag, why)
        user = self.session.user if self.session is not None else "(none)"
        self.audit(
            {
                "time": self.bus.clock.time(),
                "user": f"{user} (Sparkplug DCMD)",
                "action": "write",
                "target": tag,
                "new_value": value,
                "outcome": "denied",
                "reason": why,
                "host": self.origin,
                "node": node_id(self.bus),
                "screen": SCREEN,
            }
        )
