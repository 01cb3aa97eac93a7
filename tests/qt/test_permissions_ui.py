"""The GUI enables controls from the project's grants: the same rule the plant checks.

A context's :meth:`~hmi.qt.context.HmiContext.may` and ``write_denied`` follow the grants
it is given (the project's ``permissions:``), the Audit button follows ``read_audit``, the
audit dialog's export ``export_audit``; refusals the backend still makes are shown.
"""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QMainWindow, QPushButton

from hmi.app.gui import AppOptions
from hmi.app.session import add_session_controls
from hmi.core.permissions import Permission, parse_grants
from hmi.qt.context import HmiContext
from hmi.screens.audit_view import AuditDialog
from tests.widgets.support import demo_store

SP = "area1/lic101/sp"  # write_roles: [operator, engineer]
ROLES = ["viewer", "operator", "engineer", "admin", "shiftlead"]


def test_may_and_write_denied_follow_the_projects_grants(qapp):
    # In this plant operators only acknowledge; a shift lead writes (but no tag names it).
    grants, problems = parse_grants(
        {"operator": ["acknowledge"], "shiftlead": ["write", "read_audit"]}, ROLES
    )
    assert problems == []
    context = HmiContext(demo_store(), grants=grants)

    assert context.write_denied(SP) == f"log in to write {SP} (needs role: engineer)"
    context.log_in("olga", frozenset({"operator"}))
    assert context.may(Permission.ACKNOWLEDGE) and not context.may(Permission.WRITE)
    assert context.write_denied(SP) == f"olga may not write {SP} (needs role: engineer)"
    assert context.send(SP, 3.0) is None and context.sink.commands == []

    context.log_in("lena", frozenset({"shiftlead"}))
    assert context.may(Permission.READ_AUDIT) and not context.may(Permission.SHELVE)
    assert "needs role: engineer" in context.write_denied(SP)

    context.log_in("eve", frozenset({"engineer"}))
    assert context.write_denied(SP) == "" and context.may_write(SP)

    # Without a project's grants, the default roles' (operators write).
    default = HmiContext(demo_store(), user="olga", roles=frozenset({"operator"}))
    assert default.may_write(SP) and not default.may(Permission.READ_AUDIT)


def test_the_audit_button_follows_read_audit(qtbot, qapp):
    window = QMainWindow()
    qtbot.addWidget(window)
    window.project = None
    context = HmiContext(demo_store())

    async def nothing(*args: object) -> None:
        return None

    add_session_controls(
        window,
        app=qapp,
        context=context,
        log_in=nothing,
        log_out=nothing,
        bus=None,
        options=AppOptions(idle_logout=0),
        tasks=[],
    )
    [audit] = [b for b in window.statusBar().findChildren(QPushButton) if b.text() == "Audit"]
    assert not audit.isEnabled()  # nobody logged in
    context.log_in("olga", frozenset({"operator"}))
    assert not audit.isEnabled() and "read_audit" in audit.toolTip()
    context.log_in("eve", frozenset({"engineer"}))
    assert audit.isEnabled()
    context.log_in("", frozenset())
    assert not audit.isEnabled()
    qapp.removeEventFilter(window.idle_watch)


def test_the_audit_dialog_exports_only_with_the_right_and_shows_refusals(qtbot, tmp_path):
    allowed = [False]
    exported: list[str] = []

    async def fetch() -> list[dict[str, object]]:
        raise PermissionError("audit.recent refused: vic may not read the audit trail")

    async def export(path: str) -> int:
        exported.append(path)
        return 7

    dialog = AuditDialog(fetch, export, may_export=lambda: allowed[0])
    qtbot.addWidget(dialog)
    assert not dialog.export_button.isEnabled()
    asyncio.run(dialog.refresh())
    assert dialog.message.text() == (
        "Could not read the audit trail: audit.recent refused: vic may not read the audit trail"
    )
    assert dialog.table.rowCount() == 0

    allowed[0] = True
    asyncio.run(dialog.refresh())  # the rights are looked at again
    assert dialog.export_button.isEnabled()
    path = str(tmp_path / "audit.csv")
    asyncio.run(dialog.export_to(path))
    assert exported == [path]
    assert dialog.message.text() == f"7 rows exported to {path}"
