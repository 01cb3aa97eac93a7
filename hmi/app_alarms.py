"""The GUI's alarm model wired to the alarm engine on the bus (part of the composition root).

The GUI layers may not import the bus; here the app subscribes ``alarm/#`` for the model,
loads the engine's snapshot (retrying until an engine answers: in a control room the
backend may start after the HMI), and binds the model's requests to ``bus.call("alarms",
...)`` with the session's user and token. :func:`resync` keeps it right across engine
restarts and lost broker links.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from hmi.bus import Bus, RpcTimeout, Subscription
from hmi.bus.rpc import RemoteError
from hmi.qt.alarms import AlarmModel, AlarmService
from hmi.services.alarm_engine import MAX_SHELVE

log = logging.getLogger(__name__)

TARGET = "alarms"


def alarm_service(
    bus: Bus,
    session: Callable[[], tuple[str, str]],
    *,
    max_shelve: float = MAX_SHELVE,
    timeout: float = 5.0,
) -> AlarmService:
    """Requests as the session's user: ``session()`` gives ``(user, token)`` at call time."""

    async def acknowledge(tags: list[str], comment: str) -> list[dict[str, Any]]:
        user, token = session()
        results: list[dict[str, Any]] = await bus.call(
            TARGET, "acknowledge", tags, user=user, token=token, comment=comment, timeout=timeout
        )
        return results

    async def shelve(tag: str, reason: str, duration: float) -> Any:
        user, token = session()
        return await bus.call(
            TARGET, "shelve", tag, reason, duration, user=user, token=token, timeout=timeout
        )

    async def unshelve(tag: str) -> Any:
        user, token = session()
        return await bus.call(TARGET, "unshelve", tag, user=user, token=token, timeout=timeout)

    async def history(
        since: float | None, until: float | None, tag: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await bus.call(
            TARGET, "history", since, until, tag, limit, timeout=max(timeout, 15.0)
        )
        return rows

    return AlarmService(acknowledge, shelve, unshelve, history, max_shelve)


def feed_transitions(bus: Bus, model: AlarmModel) -> Subscription:
    """Apply every ``alarm/<tag>`` transition to ``model`` (malformed ones are dropped)."""

    def on_alarm(topic: str, payload: Any) -> None:
        try:
            model.apply(payload)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("dropped malformed alarm transition on %s: %s", topic, exc)

    return bus.subscribe("alarm/#", on_alarm)


async def load_snapshot(
    bus: Bus, model: AlarmModel, *, retry: float = 1.0, max_retry: float = 30.0
) -> int:
    """Load the engine's snapshot into ``model``, retrying until an engine answers.

    Call after :func:`feed_transitions`: transitions that overtake the snapshot are kept
    (the model takes a snapshot entry only when it is newer than what it holds).
    Returns how many snapshot entries were taken.
    """
    while True:
        try:
            statuses = await bus.call(TARGET, "snapshot", timeout=5.0)
        except (RemoteError, RpcTimeout, OSError) as exc:
            log.info("alarm engine not reachable yet (%s); retrying in %.0f s", exc, retry)
            await asyncio.sleep(retry)
            retry = min(max_retry, retry * 2)  # a plant without an engine is not hammered
            continue
        return model.load_snapshot(statuses)


def resync(bus: Bus, model: AlarmModel) -> None:
    """Keep ``model`` honest about what it knows across engine restarts and lost links.

    - a node joins the broker (``$sys/node/<id>/alive``: a restarted engine publishes
      nothing for alarms that cleared while it was down; or we are back after a broker
      restart): load the snapshot again;
    - the broker goes silent (``$sys/broker/lost``): transitions published meanwhile never
      reach us, so the model is marked stale (the banner says so) ...
    - ... until a broker heartbeat (``$sys/broker``) finds it stale: load the snapshot.

    One reload at a time, as a task owned by the bus.
    """
    pending: list[asyncio.Task[Any]] = []

    def reload() -> None:
        if pending and not pending[0].done():
            return
        pending[:] = [bus.spawn(load_snapshot(bus, model), name="alarm snapshot")]

    bus.subscribe("$sys/node/+/alive", lambda topic, payload: reload())
    bus.subscribe("$sys/broker/lost", lambda topic, payload: model.lost())
    bus.subscribe("$sys/broker", lambda topic, payload: None if model.synced else reload())


def connect_alarms(
    bus: Bus,
    model: AlarmModel,
    session: Callable[[], tuple[str, str]],
    *,
    notify: Callable[[str], None] | None = None,
    max_shelve: float = MAX_SHELVE,
) -> Subscription:
    """Give ``model`` the engine's transitions and a service; the caller loads the snapshot.

    ``notify`` is told every refused request (the app's status bar): a refusal is the
    operator's business, not an application error, and must not pass unseen.
    """
    model.service = alarm_service(bus, session, max_shelve=max_shelve)
    if notify is not None:
        model.request_failed.connect(notify)
    resync(bus, model)
    return feed_transitions(bus, model)
