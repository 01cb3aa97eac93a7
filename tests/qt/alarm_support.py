"""Helpers for alarm GUI tests: engine-shaped statuses and transitions, a recording service."""

from __future__ import annotations

import asyncio
from typing import Any

from hmi.core.alarms import AlarmState, AlarmStatus, AlarmTransition, Event, Level
from hmi.qt.alarms import AlarmService

T0 = 1_700_000_000.0

_EVENTS = {
    AlarmState.UNACKNOWLEDGED: Event.ACTIVATE,
    AlarmState.ACKNOWLEDGED: Event.ACKNOWLEDGE,
    AlarmState.RETURNED_UNACKNOWLEDGED: Event.CLEAR,
    AlarmState.NORMAL: Event.CLEAR,
    AlarmState.SHELVED: Event.SHELVE,
    AlarmState.SUPPRESSED: Event.SUPPRESS,
    AlarmState.OUT_OF_SERVICE: Event.REMOVE_FROM_SERVICE,
}


def status(
    tag: str,
    state: AlarmState = AlarmState.UNACKNOWLEDGED,
    t: float = T0,
    **fields: Any,
) -> AlarmStatus:
    """The status the engine would report for ``tag`` in ``state`` at ``t``."""
    fields.setdefault("level", Level.NONE if state is AlarmState.NORMAL else Level.HI)
    fields.setdefault("message", f"{tag} high")
    fields.setdefault("since", t)
    if fields["level"] is not Level.NONE:
        # Active since ``t`` unless told otherwise (the engine's activation time).
        fields.setdefault("active_since", t)
    if state is not AlarmState.NORMAL:
        fields.setdefault("activated_at", fields.get("active_since", t))
    if state is AlarmState.ACKNOWLEDGED:
        fields.setdefault("acked_at", t)
    if state is AlarmState.SHELVED:
        fields.setdefault("shelved_at", t)
        fields.setdefault("shelved", True)
        fields.setdefault("shelved_until", t + 3600)
        fields.setdefault("shelve_reason", "transmitter under repair")
    if state is AlarmState.OUT_OF_SERVICE:
        fields.setdefault("out_of_service", True)
    return AlarmStatus(tag, state=state, time=t, **fields)


def transition(
    tag: str,
    state: AlarmState = AlarmState.UNACKNOWLEDGED,
    t: float = T0,
    previous: AlarmState = AlarmState.NORMAL,
    **fields: Any,
) -> dict[str, Any]:
    """What the engine publishes on ``alarm/<tag>`` when ``tag`` enters ``state`` at ``t``."""
    return AlarmTransition(_EVENTS[state], previous, status(tag, state, t, **fields)).to_dict()


class FakeEngine:
    """Records requests; refuses what it is told to, as the engine would (RemoteError text)."""

    def __init__(self, *, refuse: str = "", refuse_tags: dict[str, str] | None = None) -> None:
        self.refuse = refuse
        self.refuse_tags = refuse_tags or {}
        self.calls: list[tuple[Any, ...]] = []
        self.called = asyncio.Event()
        self.rows: list[dict[str, Any]] = []
        self.kpi_answer: dict[str, Any] = {"alarms_last_10min": 0}

    def service(self, max_shelve: float = 12 * 3600.0) -> AlarmService:
        """Async callables shaped like the app's bindings to ``bus.call("alarms", ...)``."""
        return AlarmService(
            self.acknowledge,
            self.shelve,
            self.unshelve,
            self.history,
            max_shelve,
            remove_from_service=self.remove_from_service,
            return_to_service=self.return_to_service,
            kpis=self.kpis,
        )

    def _record(self, *call: Any) -> None:
        self.calls.append(call)
        self.called.set()
        if self.refuse:
            raise RuntimeError(self.refuse)

    async def acknowledge(self, tags: list[str], comment: str) -> list[dict[str, Any]]:
        self._record("acknowledge", list(tags), comment)
        return [
            {"tag": t, "ok": t not in self.refuse_tags, "error": self.refuse_tags.get(t, "")}
            for t in tags
        ]

    async def shelve(self, tag: str, reason: str, duration: float) -> dict[str, Any]:
        self._record("shelve", tag, reason, duration)
        return {"tag": tag}

    async def unshelve(self, tag: str) -> dict[str, Any]:
        self._record("unshelve", tag)
        return {"tag": tag}

    async def remove_from_service(self, tag: str, reason: str) -> dict[str, Any]:
        self._record("remove_from_service", tag, reason)
        return {"tag": tag}

    async def return_to_service(self, tag: str, comment: str) -> dict[str, Any]:
        self._record("return_to_service", tag, comment)
        return {"tag": tag}

    async def kpis(self) -> dict[str, Any]:
        self._record("kpis")
        return dict(self.kpi_answer)

    async def history(
        self, since: float | None, until: float | None, tag: str | None, limit: int
    ) -> list[dict[str, Any]]:
        self._record("history", since, until, tag, limit)
        return [r for r in self.rows if tag is None or r["tag"] == tag][:limit]

    async def wait(self, count: int) -> None:
        """Until ``count`` requests were made (woken by each one, no polling)."""
        async with asyncio.timeout(5):
            while len(self.calls) < count:
                self.called.clear()
                await self.called.wait()


def select_rows(summary: Any, *tags: str) -> None:
    """Select the alarm summary's rows of ``tags``, as a mouse would."""
    from PySide6.QtCore import QItemSelectionModel

    selection = summary.table.selectionModel()
    selection.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in range(summary.rows.rowCount()):
        if summary.rows.status_at(row).tag in tags:
            selection.select(summary.rows.index(row, 0), flags)
