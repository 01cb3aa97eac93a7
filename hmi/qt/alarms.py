"""The alarms of a session as the GUI sees them: the alarm engine's state, mirrored.

:class:`AlarmModel` starts from the engine's ``snapshot`` and follows the transitions the
engine publishes on ``alarm/<tag>``. The GUI never sees the bus: the composition root feeds
:meth:`AlarmModel.load_snapshot` and :meth:`AlarmModel.apply`, and gives the model an
:class:`~hmi.qt.alarm_service.AlarmService` (async callables bound to
``bus.call("alarms", ...)`` with the session's token) for its requests.

Changes are coalesced: the model marks the tags that changed and emits ``changed`` once per
frame of the session's repaint timer (:class:`~hmi.qt.binding.Binder`), so an alarm flood
of a thousand transitions costs the views one update, not a thousand. In the same frame the
value widgets whose tags changed are told (:attr:`AlarmModel.marks`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any

from PySide6.QtCore import QObject, Signal

from hmi.core.alarms import AlarmState, AlarmStatus, AlarmTransition, Level
from hmi.core.tag import Tag
from hmi.qt.alarm_marks import AlarmMarks
from hmi.qt.alarm_service import DEFAULT_MAX_SHELVE, AlarmService, NoService, reason_of
from hmi.qt.binding import Binder
from hmi.qt.tasks import OwnedTasks

log = logging.getLogger(__name__)

#: AlarmService and DEFAULT_MAX_SHELVE live in hmi.qt.alarm_service; importable from here
__all__ = [
    "DEFAULT_MAX_SHELVE",
    "AlarmModel",
    "AlarmService",
    "importance",
    "is_listed",
    "level_text",
]


class AlarmModel(QObject):
    """Every alarm's latest status, the requests an operator makes, and change signals.

    ``changed(tags)`` carries the set of tags changed since the last frame;
    ``request_failed(message)`` says why a request was refused (the app shows it in the
    status bar, views show it next to their buttons); ``summary_requested`` asks the shell
    to open the alarm summary (the banner emits it when clicked).
    """

    changed = Signal(object)
    request_failed = Signal(str)
    summary_requested = Signal()
    #: the engine's limits arrived (``max_shelve``, roles): views re-check their buttons
    limits_changed = Signal()
    #: a transition of the engine never arrived (its ``seq`` jumped): reload the snapshot
    gap = Signal()

    def __init__(self, binder: Binder | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._statuses: dict[str, AlarmStatus] = {}
        self._dirty: set[str] = set()
        self._synced = False
        #: ``synced`` changed since the last frame (a change views must show with no tag)
        self._sync_changed = False
        #: an engine is behind this model (a service, or a snapshot once loaded)
        self._engine = False
        self._service: AlarmService | None = None
        #: what the engine said of itself (:meth:`load_limits`); empty until it answers
        self.limits: dict[str, Any] = {}
        #: the value widgets' marks (engine state per tag), their watchers, the flash
        self.marks = AlarmMarks(self)
        #: the last ``seq`` seen per engine ``epoch`` (transitions and snapshots carry both)
        self._seqs: dict[str, int] = {}
        #: transitions known to be missed (sequence gaps) since the model was made
        self.gaps = 0
        # Requests in flight: owned here so none is garbage collected or lost at shutdown.
        self._tasks = OwnedTasks("alarm requests")
        self._binder = binder
        if binder is not None:
            binder.add_frame_hook(self, self.flush)

    # -- feeding ---------------------------------------------------------------------------
    def load_snapshot(self, statuses: Iterable[Mapping[str, Any] | AlarmStatus]) -> int:
        """Take the engine's ``snapshot``; returns how many statuses were newer than ours.

        A status only replaces what we hold when strictly newer: transitions that arrived
        while the snapshot was on its way (same or later time) already say more.
        """
        taken = 0
        for item in statuses:
            if isinstance(item, AlarmStatus):
                status = item
            else:
                # The engine's sequence number when it answered: the next one comes after.
                self._sequence(item, check=False)
                status = AlarmStatus.from_dict(dict(item))
            held = self._statuses.get(status.tag)
            if held is None or status.time > held.time:
                self._statuses[status.tag] = status
                self.marks.take(status)
                self._dirty.add(status.tag)
                taken += 1
        self._set_engine()
        self._set_synced(True)
        self._changed()
        return taken

    def apply(self, transition: Mapping[str, Any] | AlarmTransition) -> bool:
        """Apply one published transition; False (ignored) when older than what we hold.

        Transitions of one tag with the same time are applied in arrival order: the engine
        publishes them in the order they happened (e.g. acknowledge, then resume).
        """
        if not isinstance(transition, AlarmTransition):
            data = transition
            transition = AlarmTransition.from_dict(dict(data))
            self._sequence(data)
        status = transition.status
        held = self._statuses.get(status.tag)
        if held is not None and status.time < held.time:
            return False
        self._statuses[status.tag] = status
        self.marks.take(status)
        self._dirty.add(status.tag)
        self._changed()
        return True

    def load_limits(self, limits: Mapping[str, Any]) -> None:
        """Take the engine's ``limits()`` answer (max shelve duration, roles per request)."""
        self.limits = dict(limits)
        self.limits_changed.emit()

    def lost(self) -> None:
        """The link to the engine is gone: what we hold may be stale until the next snapshot."""
        self._set_synced(False)
        self._changed()

    def check_count(self, data: Mapping[str, Any]) -> None:
        """The engine's count of published transitions (``{"epoch", "seq"}``, sent after a
        quiet moment): more than we saw means the last one(s) were lost. Raises on a
        malformed count (the caller drops it)."""
        epoch, seq = data["epoch"], data["seq"]
        if not isinstance(epoch, str) or type(seq) is not int:
            raise TypeError(f"malformed alarm count {data!r}")
        last = self._seqs.get(epoch)
        if last is not None and seq > last:
            self._seqs[epoch] = seq
            self._missed(seq - last, seq + 1)

    def _sequence(self, data: Mapping[str, Any], check: bool = True) -> None:
        """Follow the engine's ``epoch``/``seq``; a jump means a transition was lost on its
        way (a broker or socket dropped it): we may show a wrong state until a snapshot."""
        epoch, seq = data.get("epoch"), data.get("seq")
        if not isinstance(epoch, str) or type(seq) is not int:
            return  # an engine that does not number its transitions
        last = self._seqs.get(epoch)
        if last is None or seq > last:
            self._seqs[epoch] = seq
        if check and last is not None and seq > last + 1:
            self._missed(seq - last - 1, seq)

    def _missed(self, count: int, before: int) -> None:
        self.gaps += 1
        log.warning("alarms: %d transition(s) missed before %s; reloading", count, before)
        self.lost()
        self.gap.emit()

    def _set_engine(self) -> None:
        if not self._engine:
            # From now on widgets show the engine's marks, not their own judgement: all
            # of them must look again.
            self._engine = True
            self._sync_changed = True

    def _set_synced(self, synced: bool) -> None:
        if synced != self._synced:
            self._synced = synced
            self._sync_changed = True

    def _changed(self) -> None:
        # Without a repaint timer (Designer, tests) there is no frame to wait for.
        if self._binder is None:
            self.flush()

    def flush(self) -> None:
        """Emit ``changed`` with the tags changed since the last call (the frame hook)."""
        if self._dirty or self._sync_changed:
            dirty, everything = self._dirty, self._sync_changed
            self._dirty, self._sync_changed = set(), False
            self.marks.notify(None if everything else dirty)
            self.changed.emit(frozenset(dirty))

    # -- reading ---------------------------------------------------------------------------
    def tag(self, name: str) -> Tag | None:
        """The tag ``name`` of the session's store (its format and unit), if known."""
        return self._binder.store.tag(name) if self._binder is not None else None

    def status(self, tag: str) -> AlarmStatus | None:
        """The latest status of ``tag``'s alarm (None when the engine has none)."""
        return self._statuses.get(tag)

    def __len__(self) -> int:
        return len(self._statuses)

    def statuses(self) -> list[AlarmStatus]:
        """Every alarm the engine reported, normal ones too (e.g. to take one out of service)."""
        return list(self._statuses.values())

    def listed(self) -> list[AlarmStatus]:
        """Every alarm an operator may need to see: any state but normal (incl. shelved)."""
        return [s for s in self._statuses.values() if is_listed(s)]

    def annunciated(self) -> list[AlarmStatus]:
        """Alarms in the banner and the alarm list, most important first."""
        items = [s for s in self._statuses.values() if s.state.annunciated]
        items.sort(key=importance)
        return items

    def unacknowledged(self) -> list[AlarmStatus]:
        """Alarms waiting for an acknowledgement, most important first."""
        return [s for s in self.annunciated() if s.state.needs_ack]

    @property
    def synced(self) -> bool:
        """True once the engine's snapshot is loaded, until the link is :meth:`lost`.

        While False, "no alarms" means "unknown", and views must say so.
        """
        return self._synced

    @property
    def engine(self) -> bool:
        """True when an alarm engine is behind this model (connected, or a snapshot came).

        Widgets then show the engine's state (:attr:`marks`), even while it is unknown or
        stale; only without an engine (Designer's preview) do they judge limits themselves.
        """
        return self._engine

    @property
    def service(self) -> AlarmService | None:
        """How requests reach the engine (None: no engine connected)."""
        return self._service

    @service.setter
    def service(self, service: AlarmService | None) -> None:
        self._service = service
        if service is not None:
            self._set_engine()
            self._changed()

    @property
    def connected(self) -> bool:
        """True when requests can reach an alarm engine."""
        return self._service is not None

    @property
    def max_shelve(self) -> float:
        """The longest shelving the engine accepts, seconds (its ``limits()`` once known)."""
        told = self.limits.get("max_shelve")
        if isinstance(told, int | float) and told > 0:
            return float(told)
        return self._service.max_shelve if self._service is not None else DEFAULT_MAX_SHELVE

    def may(self, request: str, roles: Iterable[str]) -> bool | None:
        """Whether ``roles`` may make ``request`` (e.g. ``remove_from_service``) as the
        engine said in its limits; None when it has not said (the engine decides anyway)."""
        if self.limits.get("checks_roles") is False:
            return True
        allowed = self.limits.get("roles", {}).get(request)
        if allowed is None:
            return None
        return not frozenset(allowed).isdisjoint(roles)

    # -- requests --------------------------------------------------------------------------
    async def acknowledge(self, tags: Iterable[str], comment: str = "") -> list[str]:
        """Acknowledge ``tags``; returns those the engine acknowledged (refusals reported)."""
        wanted = list(dict.fromkeys(tags))
        if not wanted:
            return []
        results = await self._ask("acknowledge", "acknowledge", wanted, comment)
        if results is None:
            return []
        done = [str(r.get("tag")) for r in results if r.get("ok")]
        refused = [f"{r.get('tag')}: {r.get('error')}" for r in results if not r.get("ok")]
        if refused:
            self._fail("acknowledge refused for " + "; ".join(refused))
        return done

    async def shelve(self, tag: str, reason: str, duration: float) -> bool:
        """Shelve ``tag`` for ``duration`` seconds with ``reason``; False when refused."""
        if not reason.strip():
            self._fail(f"shelve {tag}: a reason is required")
            return False
        if not 0 < duration <= self.max_shelve:
            self._fail(f"shelve {tag}: duration must be 0 < d <= {self.max_shelve:g} s")
            return False
        done = await self._ask(f"shelve {tag}", "shelve", tag, reason, duration)
        return done is not None

    async def unshelve(self, tag: str) -> bool:
        """Unshelve ``tag``; False when refused."""
        return await self._ask(f"unshelve {tag}", "unshelve", tag) is not None

    async def remove_from_service(self, tag: str, reason: str) -> bool:
        """Take ``tag``'s alarm out of service (engineers); a reason is required."""
        if not reason.strip():
            self._fail(f"remove {tag} from service: a reason is required")
            return False
        done = await self._ask(
            f"remove {tag} from service", "remove_from_service", tag, reason.strip()
        )
        return done is not None

    async def return_to_service(self, tag: str, reason: str) -> bool:
        """Put ``tag``'s alarm back in service (engineers); a reason is required."""
        if not reason.strip():
            self._fail(f"return {tag} to service: a reason is required")
            return False
        done = await self._ask(f"return {tag} to service", "return_to_service", tag, reason.strip())
        return done is not None

    async def kpis(self) -> dict[str, Any]:
        """The engine's alarm KPIs (raises when there is no engine or it cannot answer)."""
        call = self._need().kpis
        if call is None:
            raise NoService("the alarm engine gives no KPIs")
        return await call()

    async def history(
        self,
        since: float | None = None,
        until: float | None = None,
        tag: str | None = None,
        limit: int = 10_000,
    ) -> list[dict[str, Any]]:
        """Journal rows of the engine (raises when there is no engine or it refuses)."""
        return await self._need().history(since, until, tag, limit)

    def request(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run a request coroutine as a task this model owns (views call this from slots).

        Without a running event loop (a widget previewed in Designer) nothing can be sent:
        that is reported like a refusal, and None returned.
        """
        task = self._tasks.spawn(coro)
        if task is None:
            self._fail("no event loop: the request was not sent")
        return task

    async def close(self) -> None:
        """Cancel the requests still in flight (at shutdown)."""
        await self._tasks.close()

    def _need(self) -> AlarmService:
        if self._service is None:
            raise NoService("no alarm service connected")
        return self._service

    async def _ask(self, what: str, method: str, *args: Any) -> Any:
        """The service's ``method(*args)``; a refusal becomes ``request_failed`` and None."""
        try:
            call: Callable[..., Awaitable[Any]] | None = getattr(self._need(), method)
            if call is None:
                raise NoService(f"the alarm service cannot {method.replace('_', ' ')}")
            return await call(*args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(f"{what} refused: {reason_of(exc)}")
            return None

    def _fail(self, message: str) -> None:
        log.warning("alarms: %s", message)
        self.request_failed.emit(message)


def is_listed(status: AlarmStatus) -> bool:
    """True for alarms the summary lists: anything but normal."""
    return status.state is not AlarmState.NORMAL


def importance(status: AlarmStatus) -> tuple[bool, int, float]:
    """Sort key, most important first: waiting for ack, then priority, then the newest
    alarm (by its activation: acknowledging or shelving one does not make it newer)."""
    return (not status.state.needs_ack, status.priority, -alarm_time(status))


def alarm_time(status: AlarmStatus) -> float:
    """When the alarm came (:attr:`AlarmStatus.alarm_time`), for display and ordering;
    its last change for one that was never active (out of service while normal)."""
    when = status.alarm_time
    return status.since if when is None else when


def level_text(level: Level) -> str:
    """The limit an alarm is at (``HI``, ``LOLO``, ``BAD``); empty when clear or discrete,
    where the message already says what the state means."""
    return "" if level in (Level.NONE, Level.STATE) else level.name
