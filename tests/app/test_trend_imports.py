"""The trends' libraries are imported in the background once the window is up, so the
first trends screen does not stop the event loop (and with it a local plant's polls)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys, threading
from hmi.app.gui import TREND_LIBRARIES, warm_trend_imports
before = [name for name in TREND_LIBRARIES if name in sys.modules]
thread = warm_trend_imports()
assert thread is not threading.current_thread() and thread.daemon
thread.join(60)
after = [name for name in TREND_LIBRARIES if name in sys.modules]
print(before, after, thread.is_alive())
"""


def test_the_trend_libraries_are_imported_off_the_event_loop() -> None:
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # Not imported with the application (its first frame does not pay for them), then
    # imported by the thread.
    assert done.stdout.split("\n")[0] == "[] ['numpy', 'pyqtgraph'] False"
