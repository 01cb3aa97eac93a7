"""The writer's side of ``audit.intend``: record a write before carrying it out.

A driver cannot import the services (sibling layers), so the composition root hands it
:func:`remote_intent` of its bus, the way it hands it the session verifier. The driver
awaits it after the command's session is verified and before the write goes to the
device; any exception means "do not write", and its text is the rejection the operator
reads::

    try:
        await intend(command)
    except Exception as exc:
        reject(command, str(exc))    # e.g. "audit unavailable: database or disk is full"

See :meth:`hmi.services.security_actor.AuditRecorder.intend` for the other side.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from hmi.bus import Bus, RemoteError, RpcTimeout
from hmi.bus.wire.messages import encode_command
from hmi.core.command import Command

log = logging.getLogger(__name__)

#: ``await intend(command)``: returns once the command's audit row is stored; raises
#: :class:`IntentRefused` (its text for the operator) when the write must not be made
WriteIntent = Callable[[Command], Awaitable[None]]


class IntentRefused(Exception):
    """The write's audit row was not stored: the write must not be made. The message is
    the operator's (``audit unavailable: database or disk is full``)."""


def remote_intent(bus: Bus, target: str = "audit", timeout: float = 2.0) -> WriteIntent:
    """A :data:`WriteIntent` that asks the audit service (RPC ``<target>.intend``)."""

    async def intend(command: Command) -> None:
        try:
            await bus.call_in_task(target, "intend", encode_command(command), timeout=timeout)
        except RemoteError as exc:
            raise IntentRefused(_reason(exc)) from None
        except (RpcTimeout, OSError) as exc:  # no reply in time, or the transport failed
            log.warning("cannot record a write's intent: %s", str(exc) or type(exc).__name__)
            raise IntentRefused("audit unavailable: audit service unreachable") from None

    return intend


def _reason(exc: RemoteError) -> str:
    """The operator's words for the audit service's refusal."""
    if exc.remote_type == "AuditUnavailable":
        return exc.remote_message  # already "audit unavailable: <why>"
    if exc.remote_type == "InvalidToken":
        return f"invalid session: {exc.remote_message}"
    if exc.remote_type == "LookupError":  # nobody serves the target
        return "audit unavailable: audit service unreachable"
    log.error("audit.intend failed: %s", exc)
    return f"audit unavailable: audit service failed ({exc.remote_type})"
