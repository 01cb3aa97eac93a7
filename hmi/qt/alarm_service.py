"""How the GUI asks the alarm engine for things: :class:`AlarmService`, bound by the app.

The GUI layers never see the bus: the composition root (``hmi/app/alarms.py``) binds these
callables to ``bus.call("alarms", ...)`` with the session's user and token, tests bind them
to a recording fake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

#: ISA-18.2 wants shelving time-limited; the engine's own bound (12 h) unless told otherwise
DEFAULT_MAX_SHELVE = 12 * 3600.0


@dataclass(frozen=True)
class AlarmService:
    """How the GUI asks the alarm engine for things (the app binds these to the bus).

    Each callable raises when the engine refuses (no right, wrong state, bad duration);
    ``acknowledge`` answers per tag, because one of several may fail alone.
    """

    #: ``(tags, comment) -> [{"tag", "ok", "error"}]``
    acknowledge: Callable[[list[str], str], Awaitable[list[dict[str, Any]]]]
    #: ``(tag, reason, duration_s) -> status dict``
    shelve: Callable[[str, str, float], Awaitable[Any]]
    #: ``(tag) -> status dict``
    unshelve: Callable[[str], Awaitable[Any]]
    #: ``(since, until, tag, limit) -> journal rows (transition dicts)``, time order
    history: Callable[
        [float | None, float | None, str | None, int], Awaitable[list[dict[str, Any]]]
    ]
    #: the longest shelving the engine accepts, seconds, until :attr:`limits` tells
    max_shelve: float = DEFAULT_MAX_SHELVE
    #: ``() -> limits dict`` (``max_shelve``, ``roles`` per request, ``kpi`` settings)
    limits: Callable[[], Awaitable[dict[str, Any]]] | None = None
    #: ``(tag, reason) -> status dict`` (engineers)
    remove_from_service: Callable[[str, str], Awaitable[Any]] | None = None
    #: ``(tag, comment) -> status dict`` (engineers)
    return_to_service: Callable[[str, str], Awaitable[Any]] | None = None
    #: ``() -> KPI dict`` (alarms per 10 min, chattering, standing, counts by state)
    kpis: Callable[[], Awaitable[dict[str, Any]]] | None = None


class NoService(RuntimeError):
    """Raised (and reported) when a request is made with no alarm engine connected."""


def reason_of(exc: BaseException) -> str:
    """What an operator reads of a refusal: the message, without the remote type name."""
    # RemoteError's text is "Type: message"; the type means nothing to an operator.
    text = str(exc) or type(exc).__name__
    head, sep, tail = text.partition(": ")
    return tail if sep and head.isidentifier() and head[:1].isupper() else text
