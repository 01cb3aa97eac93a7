"""Test configuration shared by every test: Qt runs offscreen, always."""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from functools import wraps
from typing import Any

import pytest

# Before anything imports Qt: tests never need (or may use) a real display.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
# The validated-project cache of `hmi run/node/backend/broker` (hmi.project.cache) goes to a
# folder of this run, never the user's ~/.cache/hmi; the commands tests start inherit it.
_CACHE = tempfile.mkdtemp(prefix="hmi-test-cache-")
os.environ["HMI_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


def _close_releasing_timers(close: Any) -> Any:
    """qasync's ``QEventLoop.close``, then the loop's Qt timer object deleted at once.

    qasync runs every ``call_later``/``call_soon`` on a Qt timer of one QObject of the loop
    (``loop._timer``) and kills a timer only when it fires: a handle cancelled before its
    time (each ``asyncio.wait_for``'s timeout, every ``asyncio.sleep`` interrupted) keeps
    its timer registered with the GUI thread, and ``close()`` leaves them all. The closed
    loop is a reference cycle, freed later by Python's cyclic GC on whichever thread
    happens to allocate, e.g. an asyncua or executor thread of a later test: Qt cannot
    unregister timers from another thread ("QObject::~QObject: Timers cannot be stopped
    from another thread"), and the next of those timers to come due is delivered to freed
    memory (a segfault in ``QTimerInfoList::activateTimers``). Deleted here, on the thread
    that closes the loop (the GUI thread), the object takes its timers with it; a closed
    loop schedules nothing more (``call_soon`` on it raises, as on a closed asyncio loop).

    The application closes its one loop when it exits; tests close one per test.
    """

    @wraps(close)
    def closing(loop: Any) -> None:
        import shiboken6

        was_closed = loop.is_closed()
        close(loop)
        if not was_closed and shiboken6.isValid(loop._timer):
            shiboken6.delete(loop._timer)

    closing.releases_timers = True  # type: ignore[attr-defined]
    return closing


@pytest.fixture(autouse=True)
def _qasync_loops_release_their_timers() -> None:
    """Make every qasync loop's ``close()`` release its Qt timers (see above).

    Patched once, as soon as some test module has imported qasync (the Qt-free tests
    never import it here).
    """
    qasync = sys.modules.get("qasync")
    if qasync is None:
        return
    loop_class = qasync._QEventLoop
    if not getattr(loop_class.close, "releases_timers", False):
        loop_class.close = _close_releasing_timers(loop_class.close)


@pytest.fixture(autouse=True)
def _garbage_freed_on_the_main_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """Collect a Qt test's garbage on the GUI thread when it ends.

    A window, its menus and a closed qasync loop are reference cycles. Left to the cyclic
    GC they are freed on whichever thread allocates next, e.g. an executor or asyncua
    thread of a later test; PySide6 then queues their deletion to the GUI thread, where it
    ran inside a later test's event handler and deadlocked in ``~QObject`` (a QMenu's
    actions; seen once in a fresh-clone run of tests/app/test_write_outcomes.py, whose
    loop then waited for ever). Collected here, they are freed where they were made; only
    after tests that use Qt's application (a full collection after each of the 1,600
    tests added 3 minutes to the run).
    """
    yield
    if {"qapp", "qtbot"} & set(request.fixturenames):
        gc.collect()


@pytest.fixture(autouse=True)
def _qt_event_loop_still_runs() -> Iterator[None]:
    """Fail the test that leaves Qt unable to run an event loop.

    ``stop()`` on a qasync loop made with ``already_running=True`` calls
    ``QApplication.exit()``; from then on every ``QEventLoop.exec()`` returns at once, so
    every later ``qtbot.waitSignal`` / ``waitUntil`` passes without waiting: tests that
    cannot fail. This probe (a 0 ms timer, well under a millisecond) catches the culprit.
    """
    yield
    if "PySide6.QtWidgets" not in sys.modules:
        return
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        return
    fired: list[bool] = []
    loop = QEventLoop()
    QTimer.singleShot(0, lambda: (fired.append(True), loop.quit()))
    QTimer.singleShot(2000, loop.quit)  # never hang the suite on a broken probe
    loop.exec()
    assert fired, (
        "this test left Qt's event loop unusable (QApplication.exit() was called, e.g. by "
        "stop() on a qasync loop with already_running=True): later Qt waits return at once"
    )
