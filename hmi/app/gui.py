"""The operator application: Qt, the qasync loop, the bus, and in local mode the plant.

``hmi demo`` and ``hmi run`` come here. In local mode (the project's ``bus.mode: local``,
the default) the bus is in memory and the plant's actors (drivers, security, audit,
alarms, history, and for the demo the simulated plant) share the GUI's qasync loop. In
broker mode the station joins the plant through ``hmi broker`` and gets logins, alarms,
history and the audit trail from ``hmi backend``, exactly as in local mode.

Start-up paints the window first (issue 17: ``hmi demo`` to its first frame in 400 ms):
only what the first frame shows is imported before it (Qt, the window, its first screen,
the in-memory bus it is wired to); the plant's actors (drivers, services, the simulator,
and their imports: pymodbus, sqlite) are imported and started after the first paint, and
their values fill the screen as they come. Every module of ``hmi.app`` that is not on
that path is imported where it is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import os
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from hmi.app import DEMO_PASSWORD, DEMO_PROJECT, DEMO_USER
from hmi.core.command import Command
from hmi.core.tagstore import TagStore

if TYPE_CHECKING:
    # Types only: the deployment module imports the bus's keys and zmq, which a local
    # station does not need before its first frame (or at all).
    from hmi.app.deployment import Deployment
    from hmi.project import Project

log = logging.getLogger(__name__)

#: at most this long the plant waits for the window's first paint before it starts anyway
#: (a window never exposed: minimized, or a platform that does not paint)
FIRST_PAINT_WAIT = 2.0


def _headless() -> bool:
    return sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


@dataclasses.dataclass
class AppOptions:
    """How ``run_app`` runs."""

    demo: bool = False
    screenshot: Path | None = None
    duration: float | None = None
    #: how the station joins its plant (None: local, one process)
    deployment: Deployment | None = None
    data_dir: Path | None = None
    user: str | None = None
    password: str | None = None
    #: log out after this long without keyboard or mouse input (0: never)
    idle_logout: float = 15 * 60.0
    #: unacknowledged alarms flash at 1 Hz (ISA-101); off: steady, framed marks only
    alarm_flash: bool = True
    #: "stdio": take control requests on stdin (hmi.app.remote), for tests and automation
    control: str | None = None

    @property
    def local(self) -> bool:
        """True when the whole plant runs in this process."""
        return self.deployment is None or self.deployment.local


class _ErrorNotifier(logging.Handler):
    """Shows every ERROR log record to the operator, without blocking (status bar)."""

    def __init__(self, show: Callable[[str], None]) -> None:
        super().__init__(logging.ERROR)
        self._show = show

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a broken notifier must not break logging
            self._show(f"Error: {record.getMessage().splitlines()[0][:200]}")


def install_excepthook() -> None:
    """Log exceptions that reach the top (qasync sends ``@asyncSlot`` errors here)."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        log.error(
            "unhandled exception: %s\n%s", exc, "".join(traceback.format_exception(kind, exc, tb))
        )

    sys.excepthook = hook


def run_app(project: Project | None, options: AppOptions | None = None) -> int:
    """Open the operator window and run the event loop until it closes; the exit code."""
    options = options or AppOptions()
    started = time.monotonic()
    if options.screenshot is not None and _headless():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    from hmi.qt.theme import apply_theme

    install_excepthook()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("hmi")
    # The loop, not Qt, decides when to quit: actors must stop cleanly first.
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app)
    if options.demo and project is None:
        from hmi.project import load_project

        project = load_project(DEMO_PROJECT)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        return int(loop.run_until_complete(_main(app, project, options, started)))


async def _main(app: Any, project: Project | None, options: AppOptions, started: float) -> int:
    from hmi.app.alarms import connect_alarms, load_snapshot
    from hmi.app.links import LinkView
    from hmi.app.session import add_session_controls, publish_refused_writes, report
    from hmi.bus import Bus, bind_store
    from hmi.bus.wire.samples import MalformedPayload
    from hmi.qt.context import HmiContext
    from hmi.screens.shell import MainWindow

    deployment = options.deployment
    node = deployment.name if deployment is not None else f"hmi-{socket.gethostname()}"
    store = TagStore(project.tags.values() if project else ())
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)

    # A station's window comes first, whether its broker answers yet or not: it joins
    # when it can, and says meanwhile that it is waiting.
    if options.local:
        bus = Bus.local()
    else:
        from hmi.app.connect import open_bus

        bus = await open_bus(deployment, wait=False)  # type: ignore[arg-type]
    session: dict[str, Any] = {}

    def sink(command: Command) -> None:
        # Imported at the first command or result, not before the first frame (msgspec).
        from hmi.bus.wire.messages import encode_command

        # The token proves who asked; the driver trusts it, not the command's own claims.
        signed = dataclasses.replace(command, token=session.get("token", ""))
        bus.publish(f"cmd/{command.tag}", encode_command(signed))

    context = HmiContext(store, node=node, sink=sink, grants=project.grants if project else None)
    context.alarms.marks.flash = options.alarm_flash
    context.history = lambda *query: bus.call("historian", "buckets", *query)

    def on_result(topic: str, payload: Any) -> None:
        from hmi.bus.wire.messages import decode_result

        try:
            context.deliver(decode_result(payload))
        except MalformedPayload as exc:
            log.warning("dropped malformed result on %s: %s", topic, exc)

    publish_refused_writes(bus, context, node)
    bind_store(bus, store, "tag/#")
    bus.subscribe("result/#", on_result)

    window = MainWindow(project, store, context)

    def show(text: str) -> None:
        window.statusBar().showMessage(text, 15_000)

    notifier = _ErrorNotifier(show)
    logging.getLogger().addHandler(notifier)
    # Before the backend starts: the engine's first transitions must not be missed.
    connect_alarms(
        bus,
        context.alarms,
        lambda: (context.user, session.get("token", "")),
        notify=lambda text: show(f"Alarms: {text}"),
    )
    window.links = LinkView(
        bus,
        where=(deployment.broker or "discovered broker") if deployment else "local",
        show_bus=lambda text, level: _show_link(window.bus_status, text, level),
        show_devices=window.device_status.setText,
        alarms_lost=context.alarms.lost,
    )

    async def log_in(user: str, password: str) -> None:
        info = await bus.call(
            "security",
            "login",
            user,
            password,
            # the session is bound to the node id the broker knows this station by
            node=getattr(bus.transport, "node_id", node),
            host=socket.gethostname(),
        )
        session["token"] = info["token"]
        stop_renewal()
        session["renewal"] = asyncio.ensure_future(renew_token(info))
        context.log_in(info["user"], frozenset(info["roles"]))

    async def renew_token(info: dict[str, Any]) -> None:
        # A session lasts a shift, its token minutes: renew the token every 5 minutes or at
        # a third of its remaining life, until logout or close (which cancel this task).
        from hmi.bus import RemoteError, RpcTimeout

        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(info["expires"]) - float(info["issued"])
        while True:
            await asyncio.sleep(max(1.0, min(300.0, (deadline - loop.time()) / 3)))
            try:
                info = await bus.call("security", "refresh", session["token"])
            except (RemoteError, RpcTimeout, OSError) as exc:
                refused = isinstance(exc, RemoteError) and exc.remote_type == "InvalidToken"
                if refused or loop.time() >= deadline:  # logged out elsewhere, or over
                    session.pop("token", None)
                    context.log_in("", frozenset())
                    show(f"Logged out: the session ended ({exc})")
                    return
                log.warning("cannot renew the session's token yet: %s", exc)
                continue
            session["token"] = info["token"]
            deadline = loop.time() + float(info["expires"]) - float(info["issued"])

    def stop_renewal() -> asyncio.Future[None] | None:
        renewal: asyncio.Future[None] | None = session.pop("renewal", None)
        if renewal is not None:
            renewal.cancel()
        return renewal

    async def log_out(reason: str) -> None:
        stop_renewal()
        token = session.pop("token", "")
        context.log_in("", frozenset())
        if token:
            await bus.call("security", "logout", token, reason=reason, timeout=2)

    window.resize(1280, 800)
    painted = _report_first_paint(window, started)
    _close_on_signals(window)
    window.show()
    log.debug("window shown %.0f ms after process start", _since_start())
    # The window comes first: the operator sees the plant's screens at once and the
    # values fill in as the backend (drivers, services) comes up. Its imports and its
    # start wait for the first frame (at most FIRST_PAINT_WAIT: a window not exposed).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(painted), FIRST_PAINT_WAIT)
    # The session's controls too: their idle watch filters every event of the
    # application in Python, which the first frame's thousands of events need not pay.
    tasks: list[asyncio.Task[Any]] = []
    add_session_controls(
        window,
        app=app,
        context=context,
        log_in=log_in,
        log_out=log_out,
        bus=bus,
        options=options,
        tasks=tasks,
        token=lambda: session.get("token", ""),
    )
    backend = None
    failed = ""  # why the plant could not start: the window closes at once, exit 1
    scratch: tempfile.TemporaryDirectory[str] | None = None
    if options.local and project is not None:
        import sqlite3

        from hmi.app.plant import Backend

        data_dir = options.data_dir
        if data_dir is None:
            if options.demo:
                scratch = tempfile.TemporaryDirectory(prefix="hmi-demo-")
                data_dir = Path(scratch.name)
            else:
                data_dir = project.folder / "data"
        backend = Backend(project, bus, data_dir, simulate=options.demo)
        try:
            await backend.start()
        except (OSError, ValueError, sqlite3.Error) as exc:
            # What hmi node and hmi backend say (hmi.app.headless): one line, no traceback
            # (a data file it cannot use, devices it cannot run).
            failed = f"cannot start: {exc}"
            log.error("%s", failed)
    warm = warm_trend_imports()

    control = None
    if options.control == "stdio":
        from hmi.app.remote import Control

        control = Control(
            window,
            log_in=log_in,
            log_out=log_out,
            audit=lambda limit: bus.call("audit", "recent", limit, token=session.get("token", "")),
        )
        control.start()
    tasks.append(asyncio.ensure_future(report(load_snapshot(bus, context.alarms), "alarms")))
    user = options.user or (DEMO_USER if options.demo else None)
    password = options.password or (DEMO_PASSWORD if options.demo else None)
    if user and password:
        login = when_served(lambda: log_in(user, password), "security")
        tasks.append(asyncio.ensure_future(report(login, "login")))
    if options.duration is not None:
        tasks.append(asyncio.ensure_future(_finish_after(window, options)))
    try:
        if not failed:
            await closed.wait()
    finally:
        logging.getLogger().removeHandler(notifier)
        for task in tasks:
            task.cancel()
        renewal = stop_renewal()
        await asyncio.gather(*tasks, *([renewal] if renewal else []), return_exceptions=True)
        if control is not None:
            await control.close()
        token = session.get("token")
        if token:
            with contextlib.suppress(Exception):
                await bus.call("security", "logout", token, reason="application closed", timeout=1)
        context.binder.stop()
        await context.alarms.close()
        if backend is not None:
            await backend.stop()
        await bus.close()
        if scratch is not None:
            scratch.cleanup()
        warm.join(2.0)  # not torn down by the interpreter's exit halfway through an import
    return 1 if failed else 0


#: what the first Trend imports (hmi.widgets.trend_chart), about 0.6 s of work
TREND_LIBRARIES = ("numpy", "pyqtgraph")


def warm_trend_imports() -> threading.Thread:
    """Import the trends' libraries in a background thread, once the window is up.

    The first trends screen opened would otherwise import them on the event loop, which
    then stands still for about 0.6 s: the drivers of a local plant miss their polls (a
    fast group reads BAD for a moment: a gap at that moment in every trend) and nothing
    repaints. In a thread the loop keeps running (measured: its longest pause 0.6 s ->
    0.07 s); a trend opened meanwhile waits for the import, as it would have anyway.
    Only third-party modules are imported here: no lock of ours is taken, so a Trend
    importing hmi.widgets.trend_chart meanwhile cannot deadlock with it.
    """

    def run() -> None:
        began = time.monotonic()
        for name in TREND_LIBRARIES:
            try:
                importlib.import_module(name)
            except Exception as exc:  # the first Trend reports it, where it matters
                log.debug("background import of %s failed: %s", name, exc)
                return
        log.debug("trend libraries imported in %.0f ms", (time.monotonic() - began) * 1000)

    thread = threading.Thread(target=run, name="hmi trend imports", daemon=True)
    thread.start()
    return thread


async def when_served(
    call: Callable[[], Awaitable[Any]], target: str, *, retry: float = 0.5, most: float = 10.0
) -> Any:
    """``await call()``, again while RPC ``target`` is not served yet (a station started
    before its backend, or its broker); other errors (a wrong password) end it at once."""
    from hmi.bus import RemoteError, RpcTimeout

    while True:
        try:
            return await call()
        except (RpcTimeout, OSError) as exc:
            why = str(exc) or "no answer"
        except RemoteError as exc:
            if exc.remote_type != "LookupError":
                raise
            why = exc.remote_message
        log.info("%s not served yet (%s); trying again in %.1f s", target, why, retry)
        await asyncio.sleep(retry)
        retry = min(most, retry * 2)


async def _finish_after(window: Any, options: AppOptions) -> None:
    assert options.duration is not None
    await asyncio.sleep(options.duration)
    if options.screenshot is not None:
        options.screenshot.parent.mkdir(parents=True, exist_ok=True)
        if window.grab().save(str(options.screenshot)):
            log.info("screenshot saved to %s", options.screenshot)
        else:
            log.error("could not save screenshot to %s", options.screenshot)
    window.close()


#: how the bus label looks per link level (a rare change: a style sheet is fine here)
_LINK_STYLES = {
    "ok": "",
    "warning": "QLabel { background: #f2c94c; color: #222; font-weight: bold; padding: 0 6px; }",
    "alarm": "QLabel { background: #b00020; color: white; font-weight: bold; padding: 0 6px; }",
}


def _show_link(label: Any, text: str, level: str) -> None:
    label.setText(text)
    label.setStyleSheet(_LINK_STYLES.get(level, ""))


def _close_on_signals(window: Any) -> None:
    """SIGINT (Ctrl-C, hmi launch) and SIGTERM (a session's end) close the window, so the
    station logs out and stops as when the operator closes it.

    Python runs signal handlers only between bytecodes, and Qt's loop may sit in C for
    long: the wakeup fd, watched by Qt, makes Python run at once.
    """
    import signal

    from PySide6.QtCore import QSocketNotifier, QTimer

    if sys.platform == "win32":
        return  # no wakeup socket for Qt there; Ctrl-C ends the process as before
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())

    def on_signal(number: int, frame: object) -> None:
        log.info("%s: closing the window", signal.Signals(number).name)
        QTimer.singleShot(0, window.close)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, window)
    notifier.activated.connect(lambda *_: reader.recv(512))
    window._signal_sockets = (reader, writer, notifier)  # kept as long as the window


def _since_start() -> float:
    """Milliseconds since this process was created (for the log; 10 ms resolution).

    On Linux from the process's start in clock ticks since boot (``/proc/self/stat``)
    against CLOCK_BOOTTIME: psutil's ``create_time`` adds the boot time in whole seconds,
    which made it wrong by up to a second. Elsewhere psutil, whose clocks are finer there.
    """
    try:
        with open("/proc/self/stat", "rb") as stat:
            # Field 22 (starttime); fields are counted after the command's closing ")".
            ticks = int(stat.read().rsplit(b")", 1)[1].split()[19])
        boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        return (boot - ticks / os.sysconf("SC_CLK_TCK")) * 1000
    except (OSError, ValueError, IndexError, AttributeError):
        import psutil

        return (time.time() - psutil.Process().create_time()) * 1000


def _report_first_paint(window: Any, started: float) -> asyncio.Future[None]:
    """Log the first frame painted (bench_app reads the line); the future it completes.

    The line carries ``time.monotonic()`` of the paint: on Linux one clock for every
    process, so a parent that read it before spawning this process times the start from
    outside (benchmarks/bench_app.py). ``started`` is when :func:`run_app` was entered.
    """
    from PySide6.QtCore import QEvent, QObject

    painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                window.removeEventFilter(self)
                now = time.monotonic()
                log.info(
                    "first frame painted %.0f ms after process start, %.0f ms after the "
                    "application started (monotonic %.6f)",
                    _since_start(),
                    (now - started) * 1000,
                    now,
                )
                if not painted.done():
                    painted.set_result(None)
            return False

    window._first_paint = FirstPaint(window)  # kept alive by the window
    window.installEventFilter(window._first_paint)
    return painted
