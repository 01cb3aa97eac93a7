"""A closed qasync loop leaves no Qt timer behind, whichever thread frees it.

The tests here run each plant on a qasync loop of their own and close it (the application
closes its one loop when it exits). qasync kills a ``call_later`` timer only when it fires,
so a closed loop still had timers (a cancelled ``asyncio.wait_for`` timeout, ...) on its
timer object; the loop is a reference cycle, freed by the cyclic GC on whatever thread
allocates at that moment (an asyncua or executor thread of a later test): Qt cannot stop
timers from another thread and later delivered one to the freed object (a segfault in
``QTimerInfoList::activateTimers``). tests/conftest.py makes ``close()`` delete it.
"""

from __future__ import annotations

import asyncio
import gc
import threading

import qasync


def test_a_closed_loop_freed_on_another_thread_leaves_no_timer_behind(qapp, qtbot):
    async def main() -> None:
        answer = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(answer.set_result, None)
        # answered at once: the 0.3 s timeout is cancelled, and its Qt timer was left
        await asyncio.wait_for(answer, 0.3)

    loop = qasync.QEventLoop(qapp)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    gc.disable()  # the loop is freed by the other thread's collection, not by ours
    try:
        del loop
        collector = threading.Thread(target=gc.collect, name="collector")
        collector.start()
        collector.join()
    finally:
        gc.enable()
    qtbot.wait(600)  # past the timeout: the timer must not fire on the freed object
