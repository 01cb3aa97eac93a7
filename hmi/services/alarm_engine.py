"""The alarm engine actor: samples from the bus through each tag's alarm state machine.

Every transition is appended to the alarm journal, then published on ``alarm/<tag>`` (the
transition's flat dict, see :meth:`hmi.core.alarms.AlarmTransition.to_dict`, plus ``epoch``
and ``seq``: one sequence over all of this engine's alarm topics, so a client that misses
one transition, whatever its tag, knows at the next one and reloads the snapshot), so every
HMI on the bus shows the same state. Requests carry the user: a session token verified with
``authorize`` (the security service's ``verify``), whose roles must have the request's
permission in the project's grants (``acknowledge``, ``shelve``, ``service``); a refusal is
audited. Without ``authorize`` (demo, tests) a request names its user and is not checked.
Besides the tags' alarms it has the system's own (:mod:`hmi.services.system_alarms`):
``system/<device>/comm`` and ``system/<node>/node``, fed from ``$sys/`` topics, and with
a :class:`~hmi.services.health.StoreHealth` one per storage item (audit, journal,
history, sessions, disk).

Records and state go together (docs/alarms.md, "When the journal or the audit fails"): an
operator's request changes an alarm only if its journal rows and its audit rows are
stored; otherwise the alarm is put back as it was and the request raises
:class:`~hmi.services.alarm_journal.JournalUnavailable` or
:class:`~hmi.services.audit.AuditUnavailable`. What the process does cannot be refused:
those transitions are published at once and their rows wait in the journal's bounded
buffer until the store takes them.

RPC target ``alarms`` (see docs/alarms.md)::

    acknowledge(tags, user="", token="", comment="")   -> [{"tag", "ok", "error"}]
    shelve(tag, reason, duration, user="", token="")  -> status dict
    unshelve(tag, user="", token="", comment="")      -> status dict
    remove_from_service(tag, reason, user="", token="")
    return_to_service(tag, user="", token="", comment="")
    snapshot(only_active=False)                       -> [status dict]
    history(since=None, until=None, tag=None, limit=10000) -> [transition dict]
    kpis()                                            -> KPI dict
    limits()                                          -> what the engine accepts, and who
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from hmi.bus import Actor, MalformedPayload, decode_samples, expose
from hmi.bus.local.clock import TimerHandle
from hmi.bus.wire.topics import ALARM_SEQ
from hmi.core.alarms import (
    Alarm,
    AlarmMemento,
    AlarmRequestError,
    AlarmState,
    AlarmTransition,
    KpiTracker,
    Level,
)
from hmi.core.expression import Expression
from hmi.core.identity import Identity, InvalidToken, Unauthorized
from hmi.core.permissions import Grants, Permission
from hmi.core.quality import Severity
from hmi.core.sample import Sample, Value
from hmi.core.tag import Tag
from hmi.project.model import Project, SystemAlarmsConfig
from hmi.services.alarm_journal import AlarmJournal, JournalUnavailable
from hmi.services.audit import AuditEntry, AuditLog, AuditUnavailable
from hmi.services.health import ITEMS, StoreHealth
from hmi.services.system_alarms import SystemAlarms

log = logging.getLogger(__name__)

#: seconds after the last transition that its count is published on ALARM_SEQ
MARK_AFTER = 2.0

#: the permission each request needs (its roles come from the project's grants)
REQUESTS: Mapping[str, Permission] = {
    "acknowledge": Permission.ACKNOWLEDGE,
    "shelve": Permission.SHELVE,
    "unshelve": Permission.SHELVE,
    "remove_from_service": Permission.SERVICE,
    "return_to_service": Permission.SERVICE,
}
#: ISA-18.2 wants shelving time-limited; longer than a shift needs a new decision
MAX_SHELVE = 12 * 3600.0
#: seconds between attempts to write journal rows that wait (the store failed)
JOURNAL_RETRY = 10.0


class AlarmEngine(Actor):
    """Evaluates the alarms of ``tags``, journals and publishes every transition.

    With ``system_alarms`` (enabled), it also has a communication alarm per device of
    ``devices`` and an alarm per dead node (see :mod:`hmi.services.system_alarms`), and
    with ``health`` an alarm per storage item; its journal reports to ``health`` too.
    """

    name = "alarms"

    def __init__(
        self,
        tags: Mapping[str, Tag],
        journal: Path | str,
        *,
        authorize: Callable[[str], Identity] | None = None,
        grants: Grants | None = None,
        audit: AuditLog | None = None,
        max_shelve: float = MAX_SHELVE,
        pattern: str = "tag/#",
        name: str | None = None,
        system_alarms: SystemAlarmsConfig | None = None,
        devices: Iterable[str] = (),
        health: StoreHealth | None = None,
    ) -> None:
        super().__init__(name)
        self.journal_path = journal
        self.health = health
        self.authorize = authorize
        #: who may make which request (the project's ``permissions:``)
        self.grants = grants if grants is not None else Grants()
        self.audit = audit
        self.max_shelve = max_shelve
        self.pattern = pattern
        self.alarms: dict[str, Alarm] = {
            key: Alarm(key, tag.alarms, tag.alarms.bad_quality)
            for key, tag in tags.items()
            if tag.alarms is not None
        }
        self.system = SystemAlarms(
            system_alarms,
            devices,
            taken=self.alarms.keys(),
            stores=ITEMS if health is not None else (),
        )
        self.alarms.update(self.system.device_alarms())
        self.alarms.update(self.system.store_alarms())
        #: tag -> its ``suppress_when`` expression: the alarm is hidden while it is true
        #: (suppression by design, e.g. low flow while the pump is stopped)
        self.suppression = {
            key: Expression.parse(alarm.limits.suppress_when)
            for key, alarm in self.alarms.items()
            if alarm.limits.suppress_when is not None
        }
        self._inputs: dict[str, list[str]] = {}  # suppression input -> alarms it governs
        for tag, expression in self.suppression.items():
            for source in expression.tags:
                self._inputs.setdefault(source, []).append(tag)
        self._latest: dict[str, Sample] = {}
        #: acknowledged alarms from the journal: tag -> (level, user), until decided
        #: tag -> (level, user, when) of an acknowledgement from before a restart
        self._acked_before: dict[str, tuple[Level, str, float | None]] = {}
        self._journal: AlarmJournal | None = None
        self.kpi = KpiTracker(start=0.0)
        self._deadlines: list[tuple[float, str]] = []
        #: the deadline each alarm has in the heap: pushed again only when it changes, so
        #: a 12 h shelve on a 10 Hz tag stays one heap entry, not 432,000
        self._scheduled: dict[str, float] = {}
        self._timer: TimerHandle | None = None
        self._timer_at = float("inf")
        self.malformed = 0
        #: this incarnation of the engine: a client seeing a new epoch starts counting anew
        self.epoch = uuid.uuid4().hex[:12]
        #: the sequence number of the last transition published (1, 2, ... per epoch)
        self.seq = 0
        self._mark_timer: TimerHandle | None = None
        self._retry_timer: TimerHandle | None = None
        self._unlisten: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def for_project(cls, project: Project, **options: Any) -> AlarmEngine:
        """An engine for the project's tags and its enabled devices' communication alarms
        (``system_alarms:``); the journal sits next to the history file."""
        history = project.historian.path
        folder = (history if history.is_absolute() else project.folder / history).parent
        options.setdefault("system_alarms", project.system_alarms)
        options.setdefault("grants", project.grants)
        options.setdefault("devices", [d.name for d in project.devices.values() if d.enabled])
        return cls(project.tags, folder / "alarms.sqlite", **options)

    # -- life -----------------------------------------------------------------------------
    async def setup(self) -> None:
        now = self.clock.time()
        self.kpi = KpiTracker(start=now)
        self._journal = AlarmJournal(self.journal_path, health=self.health)
        self._emit(self._restore(now))
        self.subscribe(self.pattern, self._on_samples)
        for pattern in self.system.patterns:
            self.subscribe(pattern, self._on_system)
        if self.health is not None:
            self._loop = asyncio.get_running_loop()
            self._unlisten = self.health.listen(self._on_health)
            # Every item decided now (an alarm standing before a restart is cleared or
            # confirmed, as a device's is by its next status).
            problems = self.health.problems()
            self._feed_health({item: problems.get(item) for item in ITEMS})

    async def teardown(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
        for timer in (self._timer, self._mark_timer, self._retry_timer):
            if timer is not None:
                timer.cancel()
        if self._journal is not None:
            if not self._journal.retry():  # a last chance for rows that wait
                log.error("alarms: %d journal rows lost at stop", self._journal.backlog)
            self._journal.close()

    def _restore(self, now: float) -> list[AlarmTransition]:
        """Keep decisions across a restart: out of service, unexpired shelving, and acks.

        An acknowledged alarm is remembered with its level; if the first values after the
        restart confirm the same condition, the ack is re-applied in the name of the same
        user (journalled), so a server restart does not make operators re-acknowledge
        every standing alarm. A different (e.g. worse) condition annunciates as new.
        The times stay the operator's: an alarm active before the restart that the first
        values confirm at the same level keeps its activation time, a re-applied ack its
        acknowledge time, a restored shelving its shelve time (all in the journal's last
        status of the tag).
        """
        assert self._journal is not None
        out: list[AlarmTransition] = []
        latest = self._journal.latest()
        # A node's alarm exists only once its node died: those standing are made again.
        nodes, standing = self.system.restore(latest, now)
        self.alarms.update(nodes)
        for tag, status in latest.items():
            alarm = self.alarms.get(tag)
            if alarm is None:
                continue
            user = status.user or "system"
            alarm.recall(status.level, status.alarm_time if status.active else None)
            if status.state is AlarmState.ACKNOWLEDGED:
                self._acked_before[tag] = (status.level, user, status.acked_at)
            try:
                if status.out_of_service:
                    out += alarm.remove_from_service(user, "restored after restart", now)
                if status.shelved and status.shelved_until and status.shelved_until > now:
                    reason = status.shelve_reason or "restored after restart"
                    out += alarm.shelve(
                        user, reason, status.shelved_until, now, at=status.shelved_at
                    )
            except AlarmRequestError:
                log.warning("alarms: could not restore the state of %s", tag)
        for reading in standing:
            # Active when the engine stopped: its on-delay was served then, so it is fed as
            # of that long ago and confirmed now; an ack is re-applied as for a tag's alarm.
            alarm = self.alarms[reading.key]
            changed = alarm.update(reading.sample, now - alarm.limits.on_delay, reading.shown)
            changed += alarm.tick(now)
            if reading.key in self._acked_before:
                changed += self._reacknowledge(alarm, changed, now)
            out += changed
        return out

    # -- process --------------------------------------------------------------------------
    def _on_samples(self, topic: str, payload: Any) -> None:
        now = self.clock.time()
        try:
            batch = decode_samples(payload, now)
        except MalformedPayload as exc:
            self.malformed += 1
            log.warning("alarms: dropped malformed samples on %r: %s", topic, exc)
            return
        self.process(batch, now)

    def process(
        self, batch: Mapping[str, Sample], now: float, shown: Mapping[str, Value] | None = None
    ) -> list[AlarmTransition]:
        """Run a batch of samples through the alarms (the bus handler calls this).

        ``shown``: the system alarms' batches, with the value each alarm shows (why it
        failed). Without it, a batch is tags': it never feeds a system alarm.
        """
        out: list[AlarmTransition] = []
        system = self.system.keys if shown is None else ()
        governed: set[str] = set()
        for name, sample in batch.items():
            if name in self._inputs:
                self._latest[name] = sample
                governed.update(self._inputs[name])
        # Suppression first, so a pump that stops and a low flow in one batch do not alarm.
        for tag in sorted(governed):
            out += self.alarms[tag].set_suppressed(self._suppressed(tag, now), now)
        touched = set(governed)
        for name, sample in batch.items():
            alarm = self.alarms.get(name)
            if alarm is not None and name not in system:
                changed = alarm.update(sample, now, shown.get(name) if shown else None)
                if name in self._acked_before:
                    changed += self._reacknowledge(alarm, changed, now)
                out += changed
                touched.add(name)
        # Touched, not only transitioned: a new on-delay starts without any transition.
        self._emit(out, touched)
        return out

    def _on_system(self, topic: str, payload: Any) -> None:
        """A device's status or a node's death or life: the system alarms' inputs."""
        now = self.clock.time()
        transport = self.bus.transport
        try:
            readings = self.system.read(
                topic,
                payload,
                now,
                own_id=getattr(transport, "node_id", None),
                own_targets=self.bus.targets,
            )
        except MalformedPayload as exc:
            self.malformed += 1
            log.warning("alarms: dropped malformed %r: %s", topic, exc)
            return
        for reading in readings:
            if reading.key not in self.alarms and reading.limits is not None:
                self.alarms[reading.key] = Alarm(reading.key, reading.limits)
        fed = [r for r in readings if r.key in self.alarms]
        if fed:
            self.process({r.key: r.sample for r in fed}, now, {r.key: r.shown for r in fed})

    def _on_health(self, item: str, problem: str | None) -> None:
        """A store's health changed. Fed on the next turn of the loop, never inside the
        report: that may come from within this engine's own journal write."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._feed_health, {item: problem})

    def _feed_health(self, problems: Mapping[str, str | None]) -> None:
        if self.stopping:
            return  # queued before the stop: the journal may be closed already
        now = self.clock.time()
        readings = [
            reading
            for item, problem in problems.items()
            if (reading := self.system.store_reading(item, problem, now)) is not None
        ]
        if readings:
            self.process(
                {r.key: r.sample for r in readings}, now, {r.key: r.shown for r in readings}
            )

    def _reacknowledge(
        self, alarm: Alarm, changed: list[AlarmTransition], now: float
    ) -> list[AlarmTransition]:
        """Re-apply an ack from before the restart once the first values decide the alarm."""
        if not changed and alarm.next_deadline() is not None:
            return []  # an on-delay is running: not decided yet
        level, user, when = self._acked_before.pop(alarm.tag)
        status = alarm.status
        if status.state is AlarmState.UNACKNOWLEDGED and status.level is level:
            return alarm.acknowledge(user, now, "acknowledged before restart", at=when)
        return []

    def _suppressed(self, tag: str, now: float) -> bool:
        result = self.suppression[tag].sample(self._latest, now)
        # An input we cannot trust never hides an alarm: fail towards showing it.
        return result.quality.severity is not Severity.BAD and bool(result.value)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        now = self.clock.time()
        due: set[str] = set()
        while self._deadlines and self._deadlines[0][0] <= now:
            when, tag = heapq.heappop(self._deadlines)
            if self._scheduled.get(tag) == when:
                del self._scheduled[tag]
                due.add(tag)
        out: list[AlarmTransition] = []
        for tag in sorted(due):
            alarm = self.alarms[tag]
            changed = alarm.tick(now)
            if tag in self._acked_before:
                # Confirmed after its on-delay: an ack from before a restart applies now,
                # not at the tag's next sample.
                changed += self._reacknowledge(alarm, changed, now)
            out += changed
        self._emit(out, touched=due)

    def _emit(self, transitions: list[AlarmTransition], touched: Iterable[str] = ()) -> None:
        """What the process did: journal (or keep the rows for later: a process transition
        cannot be refused, and an operator must see an alarm even on a full disk), publish,
        count, audit; then re-arm the timer for delays and expiries."""
        if transitions:
            assert self._journal is not None
            if not self._journal.append(transitions):
                self._retry_later()
            self._announce(transitions, audited=False)
        self._schedule(touched, transitions)

    def _commit(
        self,
        request: str,
        who: str,
        target: str,
        transitions: list[AlarmTransition],
        saved: Mapping[str, AlarmMemento],
    ) -> None:
        """What an operator asked for: journal and audit rows stored (journal rows in a
        transaction committed after the audit rows), then published; if either store
        fails, the alarms go back to ``saved`` and the failure is raised."""
        if transitions:
            assert self._journal is not None
            entries = [self._entry(t) for t in transitions if t.user]
            try:
                with self._journal.transaction(transitions):
                    if self.audit is not None and entries:
                        self.audit.record(*entries)
            except (JournalUnavailable, AuditUnavailable) as exc:
                for tag, memento in saved.items():
                    self.alarms[tag].restore(memento)
                log.error("alarms: %s of %s by %s not carried out: %s", request, target, who, exc)
                if self.audit is not None:
                    # If the journal's commit failed after the audit rows were stored,
                    # this row says they did not happen (it waits if the audit fails).
                    now, why = self.clock.time(), str(exc)
                    failed = AuditEntry(now, who, request, target, outcome="failed", reason=why)
                    self.audit.note(failed)
                raise
            self._announce(transitions, audited=True)
        self._schedule((), transitions)

    def _entry(self, t: AlarmTransition) -> AuditEntry:
        return AuditEntry(t.time, t.user, t.event.value, t.tag, outcome="ok", reason=t.comment)

    def _announce(self, transitions: list[AlarmTransition], *, audited: bool) -> None:
        """Publish, count, and audit (unless already) transitions that are decided."""
        for transition in transitions:
            self.seq += 1
            payload = transition.to_dict()
            payload["epoch"], payload["seq"] = self.epoch, self.seq
            self.publish(f"alarm/{transition.tag}", payload)
        # A client detects a lost transition by the next one's ``seq``; the last one
        # before a quiet spell has no next one, so the count follows it on its own.
        if self._mark_timer is not None:
            self._mark_timer.cancel()
        self._mark_timer = self.clock.call_later(MARK_AFTER, self._publish_mark)
        self.kpi.feed(transitions)
        if self.audit is not None and not audited:
            for t in transitions:
                if t.user:  # e.g. an acknowledgement re-applied after a restart
                    self.audit.note(self._entry(t))

    def _schedule(self, touched: Iterable[str], transitions: list[AlarmTransition]) -> None:
        """Keep one heap entry per alarm with a deadline, and the timer armed."""
        for tag in {*touched, *(t.tag for t in transitions)}:
            deadline = self.alarms[tag].next_deadline()
            if deadline is None:
                self._scheduled.pop(tag, None)  # its heap entry, if any, is now stale
            elif self._scheduled.get(tag) != deadline:
                self._scheduled[tag] = deadline
                heapq.heappush(self._deadlines, (deadline, tag))
        self._arm()

    def _retry_later(self) -> None:
        if self._retry_timer is None:
            self._retry_timer = self.clock.call_later(JOURNAL_RETRY, self._retry_journal)

    def _retry_journal(self) -> None:
        self._retry_timer = None
        if self._journal is not None and not self._journal.retry():
            self._retry_later()

    def _publish_mark(self) -> None:
        self._mark_timer = None
        self.publish(ALARM_SEQ, {"epoch": self.epoch, "seq": self.seq})

    def _arm(self) -> None:
        if not self._deadlines:
            return
        when = self._deadlines[0][0]
        if when < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = when
            self._timer = self.clock.call_later(when - self.clock.time(), self._on_timer)

    # -- requests -------------------------------------------------------------------------
    def _identify(self, request: str, target: str, user: str, token: str) -> str:
        """Who makes ``request`` on ``target``: the verified user, if the grants let them;
        a refusal is audited, then raised (PermissionError, or InvalidToken)."""
        if self.authorize is None:
            if not user:
                raise PermissionError("a request needs a user")
            return user
        try:
            identity = self.authorize(token)  # raises for forged, expired or revoked tokens
        except InvalidToken as exc:
            self._refused(request, target, f"{user or '?'} (unverified: {exc})", str(exc))
            raise
        try:
            self.grants.authorize(identity, REQUESTS[request], target)
        except Unauthorized as exc:
            self._refused(request, target, identity.user, str(exc), identity.node)
            raise PermissionError(str(exc)) from None
        return identity.user

    def _refused(self, request: str, target: str, user: str, why: str, node: str = "") -> None:
        log.warning("alarms: %s of %s by %s refused: %s", request, target, user, why)
        if self.audit is not None:
            # The refusal stands whether or not the audit can store it now.
            self.audit.note(
                AuditEntry(
                    self.clock.time(),
                    user,
                    request,
                    target,
                    outcome="denied",
                    reason=why,
                    node=node,
                )
            )

    def _alarm(self, tag: str) -> Alarm:
        alarm = self.alarms.get(tag)
        if alarm is None:
            raise AlarmRequestError(f"no alarm on tag {tag!r}")
        return alarm

    def _request(
        self,
        request: str,
        tag: str,
        who: str,
        change: Callable[[Alarm], list[AlarmTransition]],
    ) -> dict[str, Any]:
        """Make ``change`` to ``tag``'s alarm as ``request`` by ``who``, kept only if it is
        journalled and audited; returns the new status."""
        alarm = self._alarm(tag)
        saved = {tag: alarm.save()}
        try:
            transitions = change(alarm)
        except BaseException:
            alarm.restore(saved[tag])  # a refused request leaves nothing behind
            raise
        self._commit(request, who, tag, transitions, saved)
        return alarm.status.to_dict()

    @expose
    def acknowledge(
        self, tags: list[str] | str, user: str = "", token: str = "", comment: str = ""
    ) -> list[dict[str, Any]]:
        """Acknowledge one or several alarms; a result per tag (one may fail, not all).

        All of them are journalled and audited together: if that fails, none is
        acknowledged and the request raises (JournalUnavailable, AuditUnavailable).
        """
        wanted = [tags] if isinstance(tags, str) else list(tags)
        target = ", ".join(map(str, wanted))
        who = self._identify("acknowledge", target, user, token)
        now = self.clock.time()
        results: list[dict[str, Any]] = []
        out: list[AlarmTransition] = []
        saved: dict[str, AlarmMemento] = {}
        for tag in wanted:
            try:
                alarm = self._alarm(tag)
                saved.setdefault(tag, alarm.save())
                out += alarm.acknowledge(who, now, comment)
                results.append({"tag": tag, "ok": True, "error": ""})
            except AlarmRequestError as exc:
                results.append({"tag": tag, "ok": False, "error": str(exc)})
        self._commit("acknowledge", who, target, out, saved)
        return results

    @expose
    def shelve(
        self, tag: str, reason: str, duration: float, user: str = "", token: str = ""
    ) -> dict[str, Any]:
        """Shelve ``tag`` for ``duration`` seconds (at most ``max_shelve``) with a reason."""
        who = self._identify("shelve", tag, user, token)
        if not 0 < duration <= self.max_shelve:
            raise AlarmRequestError(f"shelve duration must be 0 < d <= {self.max_shelve:g} s")
        now = self.clock.time()
        return self._request(
            "shelve", tag, who, lambda alarm: alarm.shelve(who, reason, now + duration, now)
        )

    @expose
    def unshelve(
        self, tag: str, user: str = "", token: str = "", comment: str = ""
    ) -> dict[str, Any]:
        """Unshelve ``tag``; it annunciates again if its condition holds."""
        who = self._identify("unshelve", tag, user, token)
        now = self.clock.time()
        return self._request("unshelve", tag, who, lambda alarm: alarm.unshelve(who, now, comment))

    @expose
    def remove_from_service(
        self, tag: str, reason: str, user: str = "", token: str = ""
    ) -> dict[str, Any]:
        """Take ``tag``'s alarm out of service (the ``service`` permission)."""
        who = self._identify("remove_from_service", tag, user, token)
        now = self.clock.time()
        return self._request(
            "remove_from_service",
            tag,
            who,
            lambda alarm: alarm.remove_from_service(who, reason, now),
        )

    @expose
    def return_to_service(
        self, tag: str, user: str = "", token: str = "", comment: str = ""
    ) -> dict[str, Any]:
        """Put ``tag``'s alarm back in service (the ``service`` permission)."""
        who = self._identify("return_to_service", tag, user, token)
        now = self.clock.time()
        return self._request(
            "return_to_service",
            tag,
            who,
            lambda alarm: alarm.return_to_service(who, now, comment),
        )

    @expose
    def snapshot(self, only_active: bool = False) -> list[dict[str, Any]]:
        """The status of every alarm (late joiners start from this, then follow alarm/#).

        Each carries ``epoch`` and ``seq``: the last transition published before it, so a
        client knows that the next one it should see is ``seq + 1``.
        """
        mark = {"epoch": self.epoch, "seq": self.seq}
        return [
            alarm.status.to_dict() | mark
            for alarm in self.alarms.values()
            if not only_active or alarm.state.value != "normal" or alarm.status.active
        ]

    @expose
    def history(
        self,
        since: float | None = None,
        until: float | None = None,
        tag: str | None = None,
        limit: int = 10_000,
    ) -> list[dict[str, Any]]:
        """Journal rows (transition dicts) in time order."""
        assert self._journal is not None
        return self._journal.rows(since, until, tag, limit)

    @expose
    def kpis(self) -> dict[str, object]:
        """Alarms per 10 minutes, chattering and standing alarms, counts by state."""
        return self.kpi.snapshot(self.clock.time()).to_dict()

    @expose
    def limits(self) -> dict[str, Any]:
        """What the engine accepts and who may ask what, so clients need not hard-code it.

        ``roles`` maps each request to the roles allowed to make it (the roles the
        project's grants give its permission, named in ``permissions``); ``checks_roles``
        is False when the engine has no authorizer (demo, tests: any named user may).
        """
        kpi = self.kpi
        return {
            "max_shelve": self.max_shelve,
            "checks_roles": self.authorize is not None,
            "roles": {
                request: sorted(self.grants.roles_with(permission))
                for request, permission in REQUESTS.items()
            },
            "permissions": {request: p.value for request, p in REQUESTS.items()},
            "kpi": {
                "chatter_count": kpi.chatter_count,
                "chatter_window": kpi.chatter_window,
                "standing_after": kpi.standing_after,
                "flood_threshold": kpi.flood_threshold,
            },
        }
