"""The session a screen runs in: the tag store, who is logged in, and where commands go.

Widgets read from :attr:`HmiContext.store` and write through :meth:`HmiContext.send`. The
composition root gives the context a *sink* (a callable that forwards a
:class:`~hmi.core.command.Command` to the bus) and calls :meth:`HmiContext.deliver` with each
:class:`~hmi.core.command.CommandResult` that comes back. The GUI never sees the bus.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.identity import Identity, Unauthorized
from hmi.core.permissions import Grants, Permission
from hmi.core.sample import Sample, Value
from hmi.core.tagstore import TagStore
from hmi.qt.alarms import AlarmModel
from hmi.qt.binding import Binder

#: forwards a command to whoever writes tags (the bus, a driver, a test)
CommandSink = Callable[[Command], None]
#: called once with the final (or PENDING) result of a command a widget sent
ResultCallback = Callable[[CommandResult], None]
#: ``history(tag, start, end, width)``: the historian's ``buckets`` answer for ``tag`` over
#: ``[start, end)`` in ``width`` buckets (docs/historian.md); trends backfill through it
HistoryQuery = Callable[[str, float, float, int], Awaitable[Mapping[str, Any]]]

_ids = itertools.count(1)


@dataclass
class RecordingSink:
    """A sink that only records commands: the default in tests and without a backend."""

    commands: list[Command] = field(default_factory=list)

    def __call__(self, command: Command) -> None:
        self.commands.append(command)


class HmiContext(QObject):
    """Store, user, roles, alarms, command sink and pending results of one operator session.

    ``grants`` are the project's (``permissions:``): controls are enabled by the same rule
    the writers and services check (:meth:`may`, :meth:`write_denied`), so what the GUI
    offers is what the plant accepts; the plant checks again anyway.

    ``navigation_requested(screen, macros, popup)`` is emitted by navigation widgets; the
    screens layer (which widgets may not import) connects its navigator to it.
    """

    result_received = Signal(object)
    navigation_requested = Signal(str, dict, bool)
    session_changed = Signal()
    #: ``(tag, value, why)``: a write refused here, before it reached the bus (for the audit)
    write_refused = Signal(str, object, str)

    def __init__(
        self,
        store: TagStore,
        *,
        user: str = "",
        roles: frozenset[str] = frozenset(),
        node: str = "",
        sink: CommandSink | None = None,
        grants: Grants | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.user = user
        self.roles = frozenset(roles)
        self.node = node
        #: who may do what (the project's grants; the default roles' without a project)
        self.grants = grants if grants is not None else Grants()
        self.sink: CommandSink = sink if sink is not None else RecordingSink()
        self.timeout = timeout
        self.clock = clock
        #: where history comes from (set by the composition root; None: live data only)
        self.history: HistoryQuery | None = None
        self._pending: dict[str, ResultCallback | None] = {}
        #: the one repaint timer of this session (see hmi.qt.binding)
        self.binder = Binder(store, parent=self)
        #: the alarm engine's state and requests (empty until the app connects an engine)
        self.alarms = AlarmModel(self.binder, parent=self)

    # -- session -------------------------------------------------------------------------
    def log_in(self, user: str, roles: frozenset[str] | set[str]) -> None:
        """Change who is operating; widgets re-check their write rights."""
        self.user, self.roles = user, frozenset(roles)
        self.session_changed.emit()

    def may(self, permission: Permission) -> bool:
        """True when the current user's roles have ``permission`` (enables controls)."""
        return self.grants.allows(self.roles, permission)

    def write_denied(self, tag_name: str) -> str:
        """Why the current user may not write ``tag_name``, or ``""`` when allowed.

        The rule is the writers' (:meth:`Grants.authorize` with the ``write`` permission
        and the tag's write roles); the words are for the operator.
        """
        tag = self.store.tag(tag_name)
        if tag is None:
            return f"{tag_name} is not a defined tag"
        if not tag.writable:
            return f"{tag_name} is read-only"
        try:
            self.grants.authorize(
                Identity(self.user, self.roles),
                Permission.WRITE,
                tag_name,
                target_roles=tag.write_roles,
            )
        except Unauthorized:
            allowed = self.grants.roles_with(Permission.WRITE) & tag.write_roles
            needed = ", ".join(sorted(allowed)) or "none has the write permission"
            if not self.user:
                return f"log in to write {tag_name} (needs role: {needed})"
            return f"{self.user} may not write {tag_name} (needs role: {needed})"
        return ""

    def may_write(self, tag_name: str) -> bool:
        """True when the current user may write ``tag_name``."""
        return not self.write_denied(tag_name)

    # -- commands ------------------------------------------------------------------------
    def send(
        self,
        tag_name: str,
        value: Value,
        *,
        screen: str = "",
        reason: str = "",
        on_result: ResultCallback | None = None,
    ) -> Command | None:
        """Send a write of ``value`` to ``tag_name``; None (nothing sent) when not allowed.

        ``on_result`` is called once with the final result (or a TIMED_OUT one after
        :attr:`timeout` seconds). A denied write is answered with REJECTED at once.
        """
        denied = self.write_denied(tag_name)
        if denied:
            self.write_refused.emit(tag_name, value, denied)
            if on_result is not None:
                on_result(CommandResult("", tag_name, CommandState.REJECTED, message=denied))
            return None
        command = Command(
            id=f"{self.node or 'hmi'}-{next(_ids)}-{uuid.uuid4().hex[:8]}",
            tag=tag_name,
            value=value,
            user=self.user,
            roles=self.roles,
            node=self.node,
            screen=screen,
            old_value=self.store.get(tag_name).value,
            time=self.clock(),
            reason=reason,
        )
        self._pending[command.id] = on_result
        if self.timeout > 0:
            QTimer.singleShot(int(self.timeout * 1000), self, lambda: self._expire(command))
        self.sink(command)
        return command

    def deliver(self, result: CommandResult) -> None:
        """Hand a result from the writer to the widget that sent the command (GUI thread)."""
        if result.state.final:
            callback = self._pending.pop(result.id, None)
        else:
            callback = self._pending.get(result.id)
        if callback is not None:
            callback(result)
        self.result_received.emit(result)

    def _expire(self, command: Command) -> None:
        if command.id in self._pending:
            self.deliver(
                CommandResult(
                    command.id,
                    command.tag,
                    CommandState.TIMED_OUT,
                    message=f"no answer within {self.timeout:g} s",
                    time=self.clock(),
                )
            )

    @property
    def pending(self) -> int:
        """Commands sent and not yet answered."""
        return len(self._pending)

    # -- navigation ----------------------------------------------------------------------
    def navigate(
        self, screen: str, macros: dict[str, str] | None = None, popup: bool = False
    ) -> None:
        """Ask the screens layer to show ``screen`` (or open it as a faceplate popup)."""
        self.navigation_requested.emit(screen, dict(macros or {}), popup)


def loopback_sink(context: HmiContext) -> CommandSink:
    """A sink that writes the store itself and confirms: for demos with no backend.

    The write is answered in a later event-loop turn, as a real writer would.
    """

    def sink(command: Command) -> None:
        def answer() -> None:
            now = context.clock()
            context.store.update(
                command.tag, Sample(command.value, source_time=now, receive_time=now)
            )
            context.deliver(
                CommandResult(
                    command.id, command.tag, CommandState.CONFIRMED, command.value, time=now
                )
            )

        QTimer.singleShot(0, context, answer)

    return sink
