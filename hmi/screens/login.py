"""The login dialog: user name and password, checked by the security service.

The dialog knows nothing of the bus: it gets an async ``authenticate(user, password)`` that
raises with an operator-readable message when the login is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

Authenticate = Callable[[str, str], Awaitable[None]]


class LoginDialog(QDialog):
    """Asks for user and password; stays open with the reason when refused."""

    def __init__(self, authenticate: Authenticate, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Log in")
        self.setModal(True)
        self._authenticate = authenticate
        self._task: asyncio.Task[None] | None = None
        self.user = QLineEdit(self)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.message = QLabel("", self)
        self.message.setObjectName("LoginMessage")
        self.message.setStyleSheet("color: #a00000;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Log in")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("User", self.user)
        form.addRow("Password", self.password)
        form.addRow(self.message)
        form.addRow(buttons)

    def submit(self) -> None:
        """Check the credentials (asynchronously); accept on success."""
        if self._task is not None and not self._task.done():
            return
        self.message.setText("Checking ...")
        self._task = asyncio.ensure_future(self._check(self.user.text(), self.password.text()))

    async def _check(self, user: str, password: str) -> None:
        try:
            await self._authenticate(user, password)
        except Exception as exc:
            # Say why in the operator's words; never which of user or password was wrong.
            self.message.setText(_reason(exc))
            self.password.clear()
            return
        self.password.clear()
        self.accept()


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "LoginFailed" in text or "wrong user name or password" in text:
        return "Wrong user name or password."
    return f"Login not possible: {text[:120]}"
