"""Test configuration shared by every test: Qt runs offscreen, always."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

import pytest

# Before anything imports Qt: tests never need (or may use) a real display.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
# The validated-project cache of `hmi run/node/backend/broker` (hmi.project.cache) goes to a
# folder of this run, never the user's ~/.cache/hmi; the commands tests start inherit it.
_CACHE = tempfile.mkdtemp(prefix="hmi-test-cache-")
os.environ["HMI_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


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
