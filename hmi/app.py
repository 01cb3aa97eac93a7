"""Composition root: builds the Qt application, the qasync loop and the main window."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from pathlib import Path
from types import TracebackType

from hmi.core.tagstore import TagStore
from hmi.project import Project

log = logging.getLogger(__name__)


def _headless() -> bool:
    return sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def install_excepthook() -> None:
    """Log exceptions that reach the top (qasync sends ``@asyncSlot`` errors here)."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        log.error("unhandled exception:\n%s", "".join(traceback.format_exception(kind, exc, tb)))

    sys.excepthook = hook


def run_app(
    project: Project | None, screenshot: Path | None = None, duration: float | None = None
) -> int:
    """Open the operator window and run the event loop until it closes.

    With ``screenshot`` the window is grabbed to that PNG after ``duration`` seconds and the
    application quits; on a machine without a display it then runs offscreen.
    """
    if screenshot is not None and _headless():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    from hmi.screens.shell import MainWindow

    install_excepthook()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("hmi")
    store = TagStore(project.tags.values() if project else ())
    window = MainWindow(project, store)
    window.resize(1280, 800)
    window.show()

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    if duration is not None:

        def finish() -> None:
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                if not window.grab().save(str(screenshot)):
                    log.error("could not save screenshot to %s", screenshot)
                else:
                    log.info("screenshot saved to %s", screenshot)
            window.close()
            app.quit()

        loop.call_later(duration, finish)
    with loop:
        loop.run_forever()
    return 0
