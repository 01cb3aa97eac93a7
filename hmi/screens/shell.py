"""The operator main window: a header, the screen area and a status bar."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QLabel, QMainWindow, QVBoxLayout, QWidget

from hmi import __version__
from hmi.core.tagstore import TagStore
from hmi.project import Project


class MainWindow(QMainWindow):
    """The application window; later issues put screens, navigation and alarms in it."""

    def __init__(self, project: Project | None, store: TagStore) -> None:
        super().__init__()
        self.project = project
        self.store = store
        name = project.name if project else "HMI demo"
        self.setWindowTitle(f"{name} - hmi {__version__}")
        self.setObjectName("MainWindow")

        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        self.header = QLabel(name, central)
        self.header.setObjectName("Header")
        self.header.setContentsMargins(12, 6, 12, 6)
        layout.addWidget(self.header)
        self.screen_area = QFrame(central)
        self.screen_area.setObjectName("ScreenArea")
        placeholder = QLabel("No screen loaded", self.screen_area)
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        area_layout = QVBoxLayout(self.screen_area)
        area_layout.addWidget(placeholder)
        layout.addWidget(self.screen_area, 1)
        self.setCentralWidget(central)

        bar = self.statusBar()
        devices = len(project.devices) if project else 0
        tags = len(project.tags) if project else 0
        self.bus_status = QLabel("Bus: local")
        self.device_status = QLabel(f"Devices: {devices}")
        self.tag_status = QLabel(f"Tags: {tags}")
        self.clock = QLabel()
        for label in (self.bus_status, self.device_status, self.tag_status):
            bar.addWidget(label)
        bar.addPermanentWidget(self.clock)
        self._tick()
        self._clock_timer = QTimer(self)
        self._clock_timer.timeout.connect(self._tick)
        self._clock_timer.start(1000)
        # ISA-101: grey, calm, colour only for abnormal states (full theme: resources/).
        self.setStyleSheet(
            "#MainWindow, #ScreenArea { background: #d4d4d4; }"
            "#Header { background: #3a3a3a; color: #f0f0f0; font-size: 15px; font-weight: bold; }"
            "QStatusBar { background: #bdbdbd; }"
        )

    def _tick(self) -> None:
        self.clock.setText(time.strftime("%Y-%m-%d %H:%M:%S"))
