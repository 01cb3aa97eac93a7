"""Login dialog, idle logout and the audit view, headless."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from hmi.screens.audit_view import AuditDialog
from hmi.screens.idle import IdleWatch
from hmi.screens.login import LoginDialog


def test_login_dialog_says_why_and_accepts_on_success(qtbot):
    tried = []

    async def authenticate(user: str, password: str) -> None:
        tried.append((user, password))
        if password != "right":
            raise RuntimeError("LoginFailed: wrong user name or password")

    dialog = LoginDialog(authenticate)
    qtbot.addWidget(dialog)
    dialog.user.setText("olga")
    dialog.password.setText("wrong")
    asyncio.run(dialog._check("olga", "wrong"))
    assert dialog.message.text() == "Wrong user name or password."
    assert dialog.password.text() == ""  # never left in the field
    assert dialog.result() == 0
    asyncio.run(dialog._check("olga", "right"))
    assert dialog.result() == LoginDialog.DialogCode.Accepted
    assert tried == [("olga", "wrong"), ("olga", "right")]


def test_idle_watch_logs_out_after_timeout_without_input(qtbot):
    now = [0.0]
    idled = []
    watch = IdleWatch(60.0, lambda: idled.append(now[0]), clock=lambda: now[0])
    app = QApplication.instance()
    app.installEventFilter(watch)
    try:
        now[0] = 50.0
        move = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(1, 1),
            QPointF(1, 1),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        watch.eventFilter(watch, move)  # activity at t=50
        now[0] = 100.0
        watch.check()
        assert idled == []
        now[0] = 110.0
        watch.check()
        assert idled == [110.0]
        watch.check()
        assert idled == [110.0]  # once, not every tick
    finally:
        app.removeEventFilter(watch)


def test_audit_view_lists_rows_newest_first(qtbot):
    rows = [
        {"time": 1.0, "user": "olga", "action": "login", "outcome": "ok"},
        {
            "time": 2.0,
            "user": "olga",
            "action": "write",
            "target": "a/b/c",
            "old_value": 1,
            "new_value": 2,
            "outcome": "confirmed",
        },
    ]

    async def fetch():
        return rows

    async def export(path: str) -> int:
        return 0

    dialog = AuditDialog(fetch, export)
    qtbot.addWidget(dialog)
    asyncio.run(dialog.refresh())
    assert dialog.table.rowCount() == 2
    assert dialog.table.item(0, 2).text() == "write"
    assert dialog.table.item(0, 5).text() == "2"
    assert dialog.table.item(1, 6).text() == "ok"


def test_the_audit_trail_shows_values_in_the_tags_format_and_keeps_the_exact_one(qtbot):
    from hmi.project import load_project
    from tests.widgets.support import DEMO

    tags = load_project(DEMO).tags
    rows = [
        {
            "time": 1.0,
            "user": "olga",
            "action": "write",
            "target": "area1/lic101/sp",
            "old_value": 3.200000047683716,  # a float32 register's value
            "new_value": 2.5,
            "outcome": "confirmed",
        },
        {
            "time": 2.0,
            "user": "olga",
            "action": "write",
            "target": "area1/lic101/auto",
            "old_value": True,
            "new_value": False,
            "outcome": "confirmed",
        },
        {"time": 3.0, "user": "olga", "action": "login", "target": "", "outcome": "ok"},
    ]

    async def fetch():
        return rows

    async def export(path: str) -> int:
        return 0

    dialog = AuditDialog(fetch, export, tag_of=tags.get)
    qtbot.addWidget(dialog)
    asyncio.run(dialog.refresh())
    old, new = 4, 5  # the old_value and new_value columns; newest row first
    assert [dialog.table.item(2, c).text() for c in (old, new)] == ["3.20 m", "2.50 m"]
    assert dialog.table.item(2, old).toolTip() == "recorded: 3.200000047683716"
    assert [dialog.table.item(1, c).text() for c in (old, new)] == ["ON", "OFF"]
    assert [dialog.table.item(0, c).text() for c in (old, new)] == ["", ""]
