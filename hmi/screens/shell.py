"""The operator main window: header, navigation bar, alarm banner, screens, status bar.

The alarm summary and history are windows of their own, opened from the banner or the
navigation bar: they exist whatever screens a project draws."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from hmi import __version__
from hmi.core.tagstore import TagStore
from hmi.project import Project
from hmi.qt.context import HmiContext
from hmi.screens.catalog import ScreenCatalog
from hmi.screens.navigation import Navigator
from hmi.widgets.alarm_banner import AlarmBanner

if TYPE_CHECKING:
    # Opened on demand: imported then, not before the window's first frame.
    from hmi.screens.alarm_history import AlarmHistoryDialog
    from hmi.screens.alarm_summary import AlarmSummaryDialog


class MainWindow(QMainWindow):
    """The application window.

    It owns an :class:`~hmi.qt.context.HmiContext` (``self.context``) unless given one; the
    composition root connects the context's ``sink`` to the bus and feeds results back
    with ``context.deliver``. The repaint timer starts with the window.
    """

    def __init__(
        self,
        project: Project | None,
        store: TagStore,
        context: HmiContext | None = None,
        catalog: ScreenCatalog | None = None,
        *,
        fill_screen: bool = True,
    ) -> None:
        super().__init__()
        #: open maximized on the first show (a control-room monitor shows the plant)
        self.fill_screen = fill_screen
        self._shown_once = False
        self.project = project
        self.store = store
        self.context = context if context is not None else HmiContext(store, parent=self)
        name = project.name if project else "HMI demo"
        self.setWindowTitle(f"{name} - hmi {__version__}")
        self.setObjectName("MainWindow")

        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        # The header: plant name, who is logged in and the time, always in view (ISA-101).
        header = QFrame(central)
        header.setObjectName("Header")
        header_layout = QHBoxLayout(header)
        header_layout.setContentsMargins(12, 6, 12, 6)
        self.header = QLabel(name, header)
        self.user_status = QLabel("", header)
        self.clock = QLabel(header)
        header_layout.addWidget(self.header)
        header_layout.addStretch(1)
        header_layout.addWidget(self.user_status)
        header_layout.addSpacing(24)
        header_layout.addWidget(self.clock)
        layout.addWidget(header)

        self.catalog = catalog if catalog is not None else ScreenCatalog.for_project(project)
        nav = QFrame(central)
        nav.setObjectName("NavBar")
        nav_layout = QHBoxLayout(nav)
        nav_layout.setContentsMargins(8, 4, 8, 4)
        self.home_button = QPushButton("Home", nav)
        self.back_button = QPushButton("< Back", nav)
        self.forward_button = QPushButton("Forward >", nav)
        for button in (self.home_button, self.back_button, self.forward_button):
            button.setObjectName("NavButton")
            nav_layout.addWidget(button)
        nav_layout.addSpacing(16)
        self.screen_buttons: dict[str, QPushButton] = {}
        for entry in self.catalog.menu():
            button = QPushButton(self.catalog.title_of(entry), nav)
            button.setObjectName("ScreenButton")
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, n=entry.name: self._go(n))
            nav_layout.addWidget(button)
            self.screen_buttons[entry.name] = button
        nav_layout.addStretch(1)
        self.screen_title = QLabel("", nav)
        self.screen_title.setObjectName("ScreenTitle")
        nav_layout.addWidget(self.screen_title)
        nav_layout.addSpacing(16)
        # Always there, whatever screens a project has: the alarm summary is not a screen.
        self.alarms_button = QPushButton("Alarm summary", nav)
        self.alarms_button.setObjectName("NavButton")
        self.alarms_button.clicked.connect(self.open_alarm_summary)
        nav_layout.addWidget(self.alarms_button)
        layout.addWidget(nav)

        self.alarm_banner = AlarmBanner(central)
        layout.addWidget(self.alarm_banner)

        self.screen_area = QFrame(central)
        self.screen_area.setObjectName("ScreenArea")
        area_layout = QVBoxLayout(self.screen_area)
        area_layout.setContentsMargins(0, 0, 0, 0)
        self.screens = QStackedWidget(self.screen_area)
        placeholder = QLabel("No screen loaded", self.screens)
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.screens.addWidget(placeholder)
        area_layout.addWidget(self.screens)
        layout.addWidget(self.screen_area, 1)
        self.setCentralWidget(central)

        self.navigator = Navigator(self.catalog, self.context, self.screens, parent=self)
        self.navigator.changed.connect(self._on_screen_changed)
        self.navigator.failed.connect(lambda message: self.statusBar().showMessage(message, 10_000))
        self.home_button.clicked.connect(self.navigator.home)
        self.back_button.clicked.connect(self.navigator.back)
        self.forward_button.clicked.connect(self.navigator.forward)

        bar = self.statusBar()
        devices = len(project.devices) if project else 0
        tags = len(project.tags) if project else 0
        self.bus_status = QLabel("Bus: local")
        self.device_status = QLabel(f"Devices: {devices}")
        self.tag_status = QLabel(f"Tags: {tags}")
        for label in (self.device_status, self.tag_status):
            bar.addWidget(label)
        # Permanent: a passing message (an error shown for 15 s) must never hide that the
        # link to the plant is lost.
        bar.addPermanentWidget(self.bus_status)
        #: what keeps the labels above true (the composition root's view of its links)
        self.links: object | None = None
        self.context.session_changed.connect(self._on_session)
        self._on_session()
        self._tick()
        self._clock_timer = QTimer(self)
        self._clock_timer.timeout.connect(self._tick)
        self._clock_timer.start(1000)

        self.alarm_summary: AlarmSummaryDialog | None = None
        self.alarm_history: AlarmHistoryDialog | None = None
        self.alarm_banner.attach(self.context)
        self.context.alarms.summary_requested.connect(self.open_alarm_summary)
        self.navigator.home()
        self._update_nav()
        self.context.binder.start()

    def showEvent(self, event: QShowEvent) -> None:
        """The first time: use the whole screen when it is larger than the window.

        A 1920x1080 monitor with a 1280x800 window in its corner wastes a third of the
        plant's picture. Without a window manager (a kiosk X server) there is nobody to
        maximize the window, so it also takes the screen's free area itself; the size it
        was given stays the size it restores to.
        """
        if self.fill_screen and not self._shown_once:
            self._shown_once = True
            screen = self.screen()
            area = screen.availableGeometry() if screen is not None else None
            # Only ever larger: a window that does not fit the screen is left as it was.
            fits = area is not None and area.contains(QRect(area.topLeft(), self.size()))
            if area is not None and fits and area.size() != self.size():
                self.setGeometry(area)
                self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)
        super().showEvent(event)

    def open_alarm_summary(self) -> AlarmSummaryDialog:
        """Show the alarm summary window (one per main window), raised to the front."""
        if self.alarm_summary is None:
            from hmi.screens.alarm_summary import AlarmSummaryDialog

            self.alarm_summary = AlarmSummaryDialog(self.context.alarms, self, session=self.context)
            self.alarm_summary.summary.on_history = self.open_alarm_history
        self.alarm_summary.show()
        self.alarm_summary.raise_()
        self.alarm_summary.activateWindow()
        return self.alarm_summary

    def open_alarm_history(self) -> AlarmHistoryDialog:
        """Show the alarm history window and load the last day (up to now)."""
        if self.alarm_history is None:
            from hmi.screens.alarm_history import AlarmHistoryDialog

            self.alarm_history = AlarmHistoryDialog(
                self.context.alarms.history, self, tag_of=self.context.store.tag
            )
        dialog = self.alarm_history
        dialog.show_last(86400.0)
        dialog.show()
        dialog.raise_()
        self.context.alarms.request(dialog.refresh())
        return dialog

    def _go(self, name: str) -> None:
        self.navigator.go(name)

    def _on_screen_changed(self, title: str) -> None:
        self.screen_title.setText(title)
        current = self.navigator.current[0] if self.navigator.current else ""
        for name, button in self.screen_buttons.items():
            button.setChecked(name == current)
        self._update_nav()

    def _update_nav(self) -> None:
        self.back_button.setEnabled(self.navigator.can_back)
        self.forward_button.setEnabled(self.navigator.can_forward)

    def _on_session(self) -> None:
        user = self.context.user or "not logged in"
        roles = ", ".join(sorted(self.context.roles)) or "view only"
        self.user_status.setText(f"User: {user} ({roles})")

    def _tick(self) -> None:
        self.clock.setText(time.strftime("%Y-%m-%d %H:%M:%S"))
