"""Session controls of the operator window: log in / log out, idle logout, audit, about."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hmi.core.permissions import Permission

if TYPE_CHECKING:
    from hmi.app.gui import AppOptions

log = logging.getLogger(__name__)


async def report(awaitable: Awaitable[Any], what: str) -> None:
    """Await ``awaitable``; log (and so show the operator) what failed."""
    try:
        await awaitable
    except Exception as exc:
        log.error("%s failed: %s", what, exc)


def publish_refused_writes(bus: Any, context: Any, node: str) -> None:
    """Publish each write the GUI refused (no right, read-only) on ``audit/write``.

    Such a write never reaches the bus as a command, so without this the audit trail would
    not show that someone tried it.
    """

    def on_refused(tag: str, value: Any, why: str) -> None:
        bus.publish(
            "audit/write",
            {
                "user": context.user,
                "action": "write",
                "target": tag,
                "new_value": value,
                "old_value": context.store.get(tag).value,
                "outcome": "rejected",
                "reason": why,
                "node": node,
                "host": socket.gethostname(),
                "time": bus.clock.time(),
            },
        )

    context.write_refused.connect(on_refused)


async def export_audit(
    bus: Any,
    token: str,
    path: str | Path,
    since: float | None = None,
    until: float | None = None,
) -> int:
    """Save the audit trail (``since``..``until``) as CSV at ``path`` on *this* machine;
    the row count. The backend only returns the text (``audit.export``, which needs the
    ``export_audit`` permission): it never writes a file a caller names."""
    text: str = await bus.call(
        "audit", "export", since, until, as_csv=True, token=token, timeout=60.0
    )
    await asyncio.to_thread(Path(path).write_text, text, encoding="utf-8", newline="")
    return max(0, sum(1 for _ in csv.reader(io.StringIO(text))) - 1)


def _no_token() -> str:
    return ""


def add_session_controls(
    window: Any,
    *,
    app: Any,
    context: Any,
    log_in: Callable[[str, str], Awaitable[None]],
    log_out: Callable[[str], Awaitable[None]],
    bus: Any,
    options: AppOptions,
    tasks: list[asyncio.Task[Any]],
    token: Callable[[], str] = _no_token,
) -> None:
    """Log in / Log out, Audit and About in the status bar; logout after idle time.

    ``token()`` is the session's token at call time: the audit trail is read and exported
    with it (the backend checks ``read_audit`` / ``export_audit``); the Audit button and
    the dialog's export follow the same grants, from ``context.may``.
    """
    from PySide6.QtWidgets import QMessageBox, QPushButton

    from hmi import __version__
    from hmi.screens.audit_view import AuditDialog
    from hmi.screens.idle import IdleWatch
    from hmi.screens.login import LoginDialog

    def spawn(coro: Awaitable[Any], what: str) -> None:
        tasks.append(asyncio.ensure_future(report(coro, what)))

    session_button = QPushButton("Log in", window)
    session_button.setObjectName("SessionButton")

    def on_session_button() -> None:
        if context.user:
            spawn(log_out("the user logged out"), "logout")
        else:
            LoginDialog(log_in, window).open()

    def on_session_changed() -> None:
        session_button.setText("Log out" if context.user else "Log in")

    session_button.clicked.connect(on_session_button)
    context.session_changed.connect(on_session_changed)

    async def fetch() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await bus.call("audit", "recent", 500, token=token())
        return rows

    async def export(path: str) -> int:
        count = await export_audit(bus, token(), path)
        window.statusBar().showMessage(f"{count} audit rows exported to {path}", 10_000)
        return count

    audit_button = QPushButton("Audit", window)

    def may_export() -> bool:
        return bool(context.may(Permission.EXPORT_AUDIT))

    def on_audit() -> None:
        dialog = AuditDialog(fetch, export, window, may_export=may_export, tag_of=context.store.tag)
        dialog.open()
        spawn(dialog.refresh(), "audit trail")

    def follow_rights() -> None:
        allowed = context.may(Permission.READ_AUDIT)
        audit_button.setEnabled(allowed)
        audit_button.setToolTip("" if allowed else "Reading the audit trail needs read_audit")

    audit_button.clicked.connect(on_audit)
    context.session_changed.connect(follow_rights)
    follow_rights()
    about_button = QPushButton("About", window)
    project = window.project
    about_button.clicked.connect(
        lambda: QMessageBox.about(
            window,
            "About hmi",
            f"<b>hmi {__version__}</b><br>HMI/SCADA operator station<br>"
            f"Project: {project.name if project else '-'}<br>Bus: "
            f"{options.deployment.describe() if options.deployment else 'local (one process)'}",
        )
    )
    bar = window.statusBar()
    for button in (session_button, audit_button, about_button):
        bar.addPermanentWidget(button)

    def on_idle() -> None:
        if context.user:
            log.info("logging %s out after %.0f s without input", context.user, options.idle_logout)
            spawn(log_out("idle"), "idle logout")

    watch = IdleWatch(options.idle_logout, on_idle, parent=window)
    app.installEventFilter(watch)
    window.idle_watch = watch
