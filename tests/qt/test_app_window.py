"""The application window: header, empty screen area and status bar, rendered offscreen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage

from hmi.core.tagstore import TagStore
from hmi.project import load_project
from hmi.screens.shell import MainWindow

EXAMPLE = Path(__file__).parents[2] / "examples" / "small-plant.yaml"


def test_main_window_shows_project_and_status(qtbot, tmp_path):
    project = load_project(EXAMPLE)
    window = MainWindow(project, TagStore(project.tags.values()))
    qtbot.addWidget(window)
    window.resize(1024, 640)
    window.show()
    assert window.header.text() == "Small plant"
    assert window.device_status.text() == "Devices: 1"
    assert window.tag_status.text() == "Tags: 5"
    assert window.clock.text().startswith("20")
    # Who is logged in and the time sit in the header, next to the plant name.
    assert window.clock.parent() is window.header.parent()
    assert window.user_status.parent() is window.header.parent()
    assert window.user_status.text() == "User: not logged in (view only)"
    png = tmp_path / "window.png"
    assert window.grab().save(str(png))
    image = QImage(str(png))
    assert image.width() == 1024 and image.height() == 640


def test_demo_command_saves_a_screenshot(tmp_path):
    import subprocess
    import sys

    png = tmp_path / "demo.png"
    result = subprocess.run(
        [sys.executable, "-m", "hmi", "demo", "--screenshot", str(png), "--duration", "0.2"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert QImage(str(png)).width() == 1280
