"""OwnedTasks: what GUI objects start from slots is kept, failures are logged, close ends it."""

from __future__ import annotations

import asyncio
import logging

from hmi.qt.tasks import OwnedTasks


def test_no_event_loop_runs_nothing_and_closes_the_coroutine():
    async def request() -> None:
        raise AssertionError("must not run")

    coro = request()
    assert OwnedTasks("preview").spawn(coro) is None
    assert coro.cr_frame is None  # closed: no "never awaited" warning, nothing left


def test_tasks_are_kept_until_done_failures_logged_and_close_cancels(caplog):
    async def main() -> None:
        tasks = OwnedTasks("audit trail")
        done = asyncio.Event()

        async def fails() -> None:
            raise ValueError("lost")

        async def waits() -> None:
            await done.wait()

        failing = tasks.spawn(fails())
        waiting = tasks.spawn(waits())
        assert failing is not None and waiting is not None and len(tasks) == 2
        await asyncio.gather(failing, return_exceptions=True)
        await asyncio.sleep(0)  # done callbacks run
        assert len(tasks) == 1
        await tasks.close()
        assert waiting.cancelled() and len(tasks) == 0

    with caplog.at_level(logging.ERROR, logger="hmi.qt.tasks"):
        asyncio.run(main())
    assert [r.getMessage() for r in caplog.records] == ["audit trail: a task failed"]
    assert "lost" in caplog.text
