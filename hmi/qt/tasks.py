"""Tasks a GUI object starts from its slots, owned until they end.

asyncio keeps only weak references to tasks: one started from a slot and not kept
anywhere may be garbage collected mid-flight. :class:`OwnedTasks` keeps them, logs a
failure (a request coroutine should report its own errors to the operator; one that
escapes is a bug and must not pass unseen), and cancels what is left on :meth:`close`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class OwnedTasks:
    """The tasks of one owner (``what`` names it in the log)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``coro`` as an owned task; None (and ``coro`` closed) without a running
        event loop, e.g. a widget previewed in Designer."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s: a task failed", self.what, exc_info=exc)

    async def close(self) -> None:
        """Cancel the tasks still running and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
