"""The GUI's alarm model wired to the alarm engine on the bus (part of the composition root).

The GUI layers may not import the bus; here the app subscribes ``alarm/#`` for the model,
loads the engine's snapshot (retrying until an engine answers: in a control room the
backend may start after the HMI), and binds the model's requests to ``bus.call("alarms",
...)`` with the session's user and token. :func:`resync` keeps it right across engine
restarts, lost broker links and lost transitions. The engine's limits (longest shelving,
roles per request) come from its ``limits()`` with each snapshot: nothing is hard-coded here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from hmi.bus import Bus, RpcTimeout, Subscription
from hmi.bus.local.rpc import RemoteError
from hmi.bus.wire.topics import ALARM_SEQ
from hmi.qt.alarms import AlarmModel, AlarmService

log = logging.getLogger(__name__)

TARGET = "alarms"


def alarm_service(
    bus: Bus,
    session: Callable[[], tuple[str, str]],
    *,
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

    async def remove_from_service(tag: str, reason: str) -> Any:
        user, token = session()
        return await bus.call(
            TARGET, "remove_from_service", tag, reason, user=user, token=token, timeout=timeout
        )

    async def return_to_service(tag: str, comment: str) -> Any:
        user, token = session()
        return await bus.call(
            TARGET,
            "return_to_service",
            tag,
            user=user,
            token=token,
            comment=comment,
            timeout=timeout,
        )

    async def limits() -> dict[str, Any]:
        answer: dict[str, Any] = await bus.call(TARGET, "limits", timeout=timeout)
        return answer

    async def kpis() -> dict[str, Any]:
        answer: dict[str, Any] = await bus.call(TARGET, "kpis", timeout=timeout)
        return answer

    return AlarmService(
        acknowledge,
        shelve,
        unshelve,
        history,
        limits=limits,
        remove_from_service=remove_from_service,
        return_to_service=return_to_service,
        kpis=kpis,
    )


def feed_transitions(bus: Bus, model: AlarmModel) -> Subscription:
    """Apply every ``alarm/<tag>`` transition to ``model`` (malformed ones are dropped);
    the engine's count on ``alarm/$seq`` checks that none was lost."""

    def on_alarm(topic: str, payload: Any) -> None:
        try:
            if topic == ALARM_SEQ:
                model.check_count(payload)
            else:
                model.apply(payload)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("dropped malformed alarm transition on %s: %s", topic, exc)

    return bus.subscribe("alarm/#", on_alarm)


async def load_snapshot(
    bus: Bus, model: AlarmModel, *, retry: float = 1.0, max_retry: float = 30.0
) -> int:
    """Load the engine's snapshot into ``model``, retrying until an engine answers.

    Call after :func:`feed_transitions`: transitions that overtake the snapshot are kept
    (the model takes a snapshot entry only when it is newer than what it holds). Then the
    engine's limits are asked again (a restarted engine may have others).
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
        taken = model.load_snapshot(statuses)
        await load_limits(bus, model)
        return taken


async def load_limits(bus: Bus, model: AlarmModel) -> bool:
    """Ask the engine's ``limits()`` into ``model``; False (defaults kept) when it cannot."""
    try:
        limits = await bus.call(TARGET, "limits", timeout=5.0)
    except (RemoteError, RpcTimeout, OSError) as exc:
        # An older engine, or gone again: the engine still enforces its own limits.
        log.info("alarm engine limits not available (%s); keeping the defaults", exc)
        return False
    if not isinstance(limits, dict):
        log.warning("alarm engine limits malformed: %r", limits)
        return False
    model.load_limits(limits)
    return True


def resync(bus: Bus, model: AlarmModel) -> None:
    """Keep ``model`` honest about what it knows across engine restarts and lost links.

    - a node joins the broker (``$sys/node/<id>/alive``: a restarted engine publishes
      nothing for alarms that cleared while it was down; or we are back after a broker
      restart): load the snapshot again;
    - the broker goes silent (``$sys/broker/lost``): transitions published meanwhile never
      reach us, so the model is marked stale (the banner says so) ...
    - ... until a broker heartbeat (``$sys/broker``) finds it stale: load the snapshot;
    - a transition never arrived (the engine's ``seq`` jumped, :attr:`AlarmModel.gap`;
      the bus counts gaps per topic only and resyncs only ``tag/`` itself): load the
      snapshot.

    One reload at a time, as a task owned by the bus; asked again while one runs (its
    answer may predate what was missed), another follows it.
    """
    pending: list[asyncio.Task[Any]] = []
    again = [False]

    def reload() -> None:
        if pending and not pending[0].done():
            again[0] = True
            return
        again[0] = False
        task = bus.spawn(load_snapshot(bus, model), name="alarm snapshot")
        task.add_done_callback(lambda _: reload() if again[0] else None)
        pending[:] = [task]

    model.gap.connect(reload)
    bus.subscribe("$sys/node/+/alive", lambda topic, payload: reload())
    bus.subscribe("$sys/broker/lost", lambda topic, payload: model.lost())
    bus.subscribe("$sys/broker", lambda topic, payload: None if model.synced else reload())


def connect_alarms(
    bus: Bus,
    model: AlarmModel,
    session: Callable[[], tuple[str, str]],
    *,
    notify: Callable[[str], None] | None = None,
) -> Subscription:
    """Give ``model`` the engine's transitions and a service; the caller loads the snapshot.

    ``notify`` is told every refused request (the app's status bar): a refusal is the
    operator's business, not an application error, and must not pass unseen.
    """
    model.service = alarm_service(bus, session)
    if notify is not None:
        model.request_failed.connect(notify)
    resync(bus, model)
    return feed_transitions(bus, model)
