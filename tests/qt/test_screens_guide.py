"""docs/screens.md's worked example, run as written: the files it says to save, `hmi check`,
`hmi run`, and what an operator then sees (a navigation button for the screen given its
macros, none for the faceplate, the faceplate opening beside the pump)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt

from hmi.core import Sample, TagStore
from hmi.project import load_project
from hmi.screens.shell import MainWindow
from hmi.widgets import Pump, Tank
from tests.widgets.support import make_context

DOC = Path(__file__).parents[2] / "docs" / "screens.md"


def _save_the_files(folder: Path) -> list[str]:
    """Every block the guide says to save, saved under ``folder``; their names."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Worked example") :]
    names = []
    for name, body in re.findall(r"Save as `([^`]+)`.*?\n```\w*\n(.*?)```", section, re.S):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
        names.append(name)
    return names


def _hmi(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "hmi", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_the_worked_example_checks_and_runs_as_written(tmp_path):
    assert _save_the_files(tmp_path) == [
        "tutorial/plant.yaml",
        "tutorial/tank.ui",
        "tutorial/motor.ui",
    ]
    checked = _hmi(tmp_path, "check", "tutorial/plant.yaml")
    assert checked.returncode == 0, checked.stderr
    assert "OK: project 'Tutorial plant'" in checked.stdout
    assert "2 screens (2 of its own)" in checked.stdout and "note:" not in checked.stdout
    # `hmi run` opens it (no plant on port 5020 here: the values are BAD, the screen is there)
    shot = tmp_path / "tutorial.png"
    ran = _hmi(tmp_path, "run", "tutorial/plant.yaml", "--screenshot", str(shot), "--duration", "1")
    assert ran.returncode == 0, ran.stderr
    assert shot.stat().st_size > 5000


def test_the_worked_example_shows_what_the_guide_says(qtbot, qapp, theme, tmp_path):
    _save_the_files(tmp_path)
    project = load_project(tmp_path / "tutorial" / "plant.yaml")
    store = TagStore(project.tags.values())
    store.apply(
        {
            "area1/t101/level": Sample(2.5),
            "area1/ft102/flow": Sample(9.0),
            "area1/p101/running": Sample(True),
            "area1/p101/tripped": Sample(False),
        }
    )
    window = MainWindow(project, store, make_context(store))
    qtbot.addWidget(window)
    window.resize(800, 700)
    window.show()
    window.context.binder.flush()
    # Home is the start_screen; it has a button, the faceplate has none.
    assert window.navigator.current[0] == "tank"
    assert {n: b.text() for n, b in window.screen_buttons.items()} == {"tank": "Tank T-101"}
    form = window.navigator.current_view.form
    assert form.findChild(Tank).tag == "area1/t101/level"
    pump = form.findChild(Pump)
    assert (pump.tag, pump.macros) == ("area1/p101/running", "DEV=area1/p101, NAME=P-101")
    qtbot.mouseClick(pump, Qt.MouseButton.LeftButton, pos=QPoint(40, 34))
    (popup,) = window.navigator.popups.values()
    assert popup.windowTitle() == "P-101 motor"
    qtbot.waitExposed(popup)
    # motor.ui draws no title: the faceplate says which device it shows above the drawing
    # (a kiosk X server draws no title bar), left of its close button.
    assert popup.title is not None and popup.title.isVisible()
    assert popup.title.text() == "P-101 motor"
    assert popup.title.geometry().bottom() < popup.view.geometry().top()
    text = popup.title.contentsRect().translated(popup.title.pos())
    assert not text.intersects(popup.close_button.geometry())
    assert popup.view.tag_names() == {
        "area1/p101/running",
        "area1/p101/tripped",
        "area1/p101/start",
        "area1/p101/reset",
    }
    qapp.processEvents()
    anchor = QRect(pump.mapToGlobal(QPoint(0, 0)), pump.size())
    assert not popup.frameGeometry().intersects(anchor)
    # Start asks first, then says how the command went under the button.
    from hmi.core import CommandResult, CommandState
    from hmi.widgets import CommandButton

    start = next(b for b in popup.view.form.findChildren(CommandButton) if b.text() == "Start")
    assert start.confirm and start.confirmText == "Start P-101?"
    start.auto_confirm = True  # the operator answers Yes
    start.click()
    assert start.status_line.text == "Start sent, waiting for the plant"
    (command,) = window.context.sink.commands
    assert (command.tag, command.value) == ("area1/p101/start", True)
    assert command.screen == "P-101 motor"  # the audit says which faceplate sent it
    window.context.deliver(CommandResult(command.id, command.tag, CommandState.CONFIRMED, True))
    assert start.status_line.text == "Start confirmed"
