"""A faceplate: one screen (a device's controls) in a small window of its own.

Framed, so it never blends into the drawing, and with its own close button: a kiosk X
server (no window manager) draws no title bar to close it with (Esc closes it too).

A faceplate is a dialog, and a dialog clicks its default button on Enter: Enter in a
setpoint field would also have switched the controller to AUTO. So no button of a
faceplate is a default button, and Enter that reaches the faceplate does nothing: every
command is one explicit action.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QKeyEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QDialog, QPushButton, QToolButton, QVBoxLayout, QWidget

from hmi.qt.look import LINE
from hmi.qt.screen import ScreenView

#: the faceplate's own frame, in pixels
FRAME = 3
#: the close button's side, in pixels
CLOSE_SIDE = 28


class Faceplate(QDialog):
    """A non-modal popup holding one screen (a device's faceplate)."""

    def __init__(self, view: ScreenView, parent: QWidget | None) -> None:
        super().__init__(parent, Qt.WindowType.Tool)
        self.view = view
        self.setObjectName("Faceplate")
        self.setWindowTitle(view.title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(FRAME, FRAME, FRAME, FRAME)
        layout.addWidget(view)
        for button in view.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)
        self.close_button = QToolButton(self)
        self.close_button.setObjectName("FaceplateClose")
        self.close_button.setText("\u2715")
        self.close_button.setToolTip(f"Close {view.title}")
        self.close_button.setFixedSize(CLOSE_SIDE, CLOSE_SIDE)
        self.close_button.clicked.connect(self.close)
        # The size drawn in Designer (the scroll area inside would otherwise ask for little).
        frame = QSize(2 * FRAME, 2 * FRAME)
        self.resize(view.form.minimumSize().expandedTo(view.form.sizeHint()) + frame)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter clicks nothing here (QDialog would click a default button); Esc closes."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the close button in the top right corner, over the drawing."""
        super().resizeEvent(event)
        self.close_button.move(self.width() - FRAME - CLOSE_SIDE - 2, FRAME + 2)
        self.close_button.raise_()

    def paintEvent(self, event: QPaintEvent) -> None:
        """The frame around the faceplate."""
        super().paintEvent(event)
        painter = QPainter(self)
        pen = QPen(LINE, FRAME)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.setPen(pen)
        half = FRAME / 2
        painter.drawRect(QRectF(self.rect()).adjusted(half, half, -half, -half))
        painter.end()
