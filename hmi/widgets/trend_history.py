"""History requests of a trend: asynchronous, one in flight per tag, the newest range wins.

Panning or zooming changes the wanted range many times a second. Each tag has at most one
query running; a range wanted meanwhile waits as the *next* one (replacing any older
waiting range), and when the running query ends its answer is dropped if a newer range is
waiting: the view has moved on, so it asks for what is shown now. Tasks belong to the
loader and are cancelled with it (a trend detached from its screen cancels its queries).

A failed tag is asked again after :data:`RETRY_DELAYS` (the historian may still be starting,
e.g. ``hmi run`` opening on a trends screen), then only when the operator acts. Time is the
trend's clock, read when the trend's repaint frame calls :meth:`HistoryLoader.due`: no timer
of its own, and tests move the clock instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hmi.qt.context import HistoryQuery
from hmi.widgets.trend_series import HistorySegment, TagSeries, covers

log = logging.getLogger(__name__)
#: seconds before asking again after the 1st, 2nd, 3rd failure in a row; after that only
#: the operator's pan, zoom or Pause/Live asks again (bounded: no retry storm)
RETRY_DELAYS = (1.0, 2.0, 5.0)


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """History of ``tag`` over ``[start, end)`` in ``width`` buckets."""

    tag: str
    start: float
    end: float
    width: int

    @property
    def step(self) -> float:
        """Seconds per bucket."""
        return (self.end - self.start) / max(1, self.width)


class HistoryLoader:
    """Runs the history queries of one trend and hands back the answers still wanted.

    ``on_answer(request, segment)`` and ``on_error(request, error)`` are called on the
    event loop's thread (the GUI thread under qasync). A malformed answer, or an
    exception raised by ``on_answer``, goes to ``on_error``. A tag whose request failed
    is not asked again until its retry is :meth:`due` (after :data:`RETRY_DELAYS` of
    ``clock``), or after the last one until :meth:`retry` (the operator acts).
    """

    def __init__(
        self,
        on_answer: Callable[[HistoryRequest, HistorySegment], None],
        on_error: Callable[[HistoryRequest, BaseException], None],
        clock: Callable[[], float],
    ) -> None:
        self.query: HistoryQuery | None = None
        self.clock = clock
        self._on_answer = on_answer
        self._on_error = on_error
        self._running: dict[str, tuple[HistoryRequest, asyncio.Task[None]]] = {}
        self._next: dict[str, HistoryRequest] = {}
        #: tags not to ask now (their last request failed)
        self._failed: set[str] = set()
        #: failures in a row per tag, since its last answer or the operator's last action
        self._failures: dict[str, int] = {}
        #: when each failed tag may be asked again (absent: only on the operator's action)
        self._retry_at: dict[str, float] = {}
        #: answers dropped because a newer range was wanted meanwhile (tests, statistics)
        self.dropped = 0

    def ask(self, series: Mapping[str, TagSeries], x0: float, x1: float, pixels: int) -> None:
        """Ask for what each pen lacks to show ``[x0, x1]`` on ``pixels`` columns.

        Called on every view change, so it is cheap when nothing is missing; a range
        already on its way is not asked again (a live trend scrolls past its first request).
        """
        if self.query is None or pixels <= 0 or x1 <= x0:
            return
        spp = (x1 - x0) / pixels
        for name, pen in series.items():
            wanted = pen.missing(x0, x1, pixels) if name not in self._failed else None
            if wanted is None:
                continue
            start, end, width = wanted
            asked = self.newest(name)
            if asked is None or not covers(asked, start, end, spp):
                self.want(HistoryRequest(name, start, end, width))

    def retry(self) -> None:
        """The operator acts: ask failed tags again, with a fresh series of retries."""
        self._failed.clear()
        self._failures.clear()
        self._retry_at.clear()

    def due(self) -> bool:
        """Release the tags whose retry time has come; True when there were some.

        Called every repaint frame: cheap when nothing failed. The caller then asks for
        what its view lacks, so a retry asks for the range shown now, not the failed one.
        """
        if not self._retry_at:
            return False
        now = self.clock()
        released = [tag for tag, at in self._retry_at.items() if at <= now]
        for tag in released:
            del self._retry_at[tag]
            self._failed.discard(tag)
        return bool(released)

    def failed(self, tag: str) -> bool:
        """True when the last request of ``tag`` failed (and no retry was allowed since)."""
        return tag in self._failed

    def next_retry(self, tag: str) -> float | None:
        """When ``tag`` is asked again by itself (its clock's time), None: only on request."""
        return self._retry_at.get(tag)

    def _fail(self, tag: str) -> None:
        self._failed.add(tag)
        failures = self._failures[tag] = self._failures.get(tag, 0) + 1
        if failures <= len(RETRY_DELAYS):
            self._retry_at[tag] = self.clock() + RETRY_DELAYS[failures - 1]
        else:
            self._retry_at.pop(tag, None)

    def _succeed(self, tag: str) -> None:
        self._failed.discard(tag)
        self._failures.pop(tag, None)
        self._retry_at.pop(tag, None)

    def want(self, request: HistoryRequest) -> None:
        """Ask for ``request`` now, or as soon as the tag's running query ends."""
        running = self._running.get(request.tag)
        if running is None:
            self._start(request)
        elif running[0] != request:
            self._next[request.tag] = request

    def newest(self, tag: str) -> HistoryRequest | None:
        """The newest range asked for ``tag`` and not answered yet (waiting or running)."""
        if tag in self._next:
            return self._next[tag]
        running = self._running.get(tag)
        return running[0] if running is not None else None

    @property
    def busy(self) -> bool:
        """True while some query runs."""
        return bool(self._running)

    def cancel(self) -> None:
        """Cancel every query (no answer of theirs will be delivered); forget failures."""
        self._next.clear()
        self.retry()
        running, self._running = self._running, {}
        for _, task in running.values():
            task.cancel()

    def _start(self, request: HistoryRequest) -> None:
        if self.query is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError as exc:  # e.g. a preview without the application's loop
            self._fail(request.tag)
            self._on_error(request, exc)
            return
        task = loop.create_task(self._fetch(self.query, request), name=f"history {request.tag}")
        self._running[request.tag] = (request, task)

    async def _fetch(self, query: HistoryQuery, request: HistoryRequest) -> None:
        answer: Mapping[str, Any] | None = None
        error: BaseException | None = None
        try:
            answer = await query(request.tag, request.start, request.end, request.width)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc
        running = self._running.get(request.tag)
        if running is None or running[0] != request:
            return  # cancelled or replaced while the answer travelled
        del self._running[request.tag]
        newer = self._next.pop(request.tag, None)
        if newer is not None and newer != request:
            self.dropped += 1  # the view moved on: ask for what it shows now
            self._start(newer)
            return
        try:
            if error is None:
                assert answer is not None
                segment = HistorySegment.from_buckets(
                    answer, request.start, request.end, request.width
                )
                self._succeed(request.tag)
                self._on_answer(request, segment)
                return
        except Exception as exc:
            error = exc
        self._fail(request.tag)
        try:
            self._on_error(request, error)
        except Exception:
            log.exception("trend history: reporting an error failed")
