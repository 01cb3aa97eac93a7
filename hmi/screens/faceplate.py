"""A faceplate: one screen (a device's controls) in a small window of its own.

Framed, so it never blends into the drawing, and with its own close button: a kiosk X
server (no window manager) draws no title bar to close it with (Esc closes it too).

For the same reason it says which device it shows itself: a faceplate whose drawing has
no title label of its own (a QLabel with the ``class`` property ``title``, as the built-in
ones have) gets its screen's title (``P-101 motor``) above it.

A faceplate is a dialog, and a dialog clicks its default button on Enter: Enter in a
setpoint field would also have switched the controller to AUTO. So no button of a
faceplate is a default button, and Enter that reaches the faceplate does nothing: every
command is one explicit action.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QKeyEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

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
        layout.setSpacing(0)
        #: the title shown above a drawing that has none of its own (None: it has one)
        self.title: QLabel | None = None
        if not _has_title(view.form):
            self.title = QLabel(view.title, self)
            self.title.setObjectName("FaceplateTitle")
            self.title.setProperty("class", "title")
            # Room for the close button at its right; the drawing's own margin at its left.
            self.title.setContentsMargins(12, 6, CLOSE_SIDE + 8, 2)
            layout.addWidget(self.title)
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
        title = self.title.sizeHint().height() if self.title is not None else 0
        frame = QSize(2 * FRAME, 2 * FRAME + title)
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


def _has_title(form: QWidget) -> bool:
    """Whether the drawing has a title label of its own (``class`` property ``title``)."""
    return any(label.property("class") == "title" for label in form.findChildren(QLabel))
