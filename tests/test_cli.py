"""The ``hmi`` command as a user runs it: in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[1] / "examples" / "small-plant.yaml"


def hmi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hmi", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_the_subcommands():
    result = hmi("--help")
    assert result.returncode == 0
    for command in ("check", "demo", "run"):
        assert command in result.stdout


def test_check_accepts_the_example():
    result = hmi("check", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "5 tags" in result.stdout


def test_check_rejects_a_bad_file_with_file_line_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntags:\n  - name: a/b/c\n    device: ghost\n    address: hr:1\n")
    result = hmi("check", str(bad))
    assert result.returncode == 1
    assert f"{bad}:4: tags[0].device: unknown device 'ghost'" in result.stderr


def test_run_refuses_a_bad_project_before_opening_a_window(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tags: []\n")
    result = hmi("run", str(bad))
    assert result.returncode == 1
    assert "name: missing required field" in result.stderr


def test_check_lints_the_screens_with_file_and_line(tmp_path):
    (tmp_path / "tank.ui").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ui version="4.0"><class>tank</class>\n'
        '<widget class="QWidget" name="tank">\n'
        ' <widget class="Tank" name="tank_1">\n'
        '  <property name="tag"><string>area1/nope/level</string></property>\n'
        " </widget>\n"
        ' <widget class="CommandButton" name="start_2">\n'
        '  <property name="tag"><string>area1/t101/level</string></property>\n'
        " </widget>\n"
        "</widget></ui>\n"
    )
    project = tmp_path / "plant.yaml"
    project.write_text(
        EXAMPLE.read_text()
        + "\nbuiltin_screens: false\nscreens:\n  - {name: tank, file: tank.ui}\n"
    )
    result = hmi("check", str(project))
    assert result.returncode == 1
    ui = tmp_path / "tank.ui"
    assert result.stderr.splitlines() == [
        "2 errors in screens",
        f"{ui}:4: tank_1.tag: unknown tag 'area1/nope/level' (did you mean 'area1/t101/level'?)",
        f"{ui}:7: start_2.tag: 'area1/t101/level' is read-only: ir:0 cannot be written",
    ]


def test_check_counts_the_screens_and_notes_built_in_ones_the_project_cannot_use():
    result = hmi("check", str(EXAMPLE))
    assert "7 screens (0 of its own)" in result.stdout
    assert "note: the built-in screens have" in result.stdout
    assert "builtin_screens: false" in result.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups, Linux names")
def test_sigterm_to_hmi_designer_stops_designer_too(tmp_path):
    """Designer is PySide6's launcher's child: both must go when `hmi designer` is stopped."""
    import os
    import signal
    import time

    import psutil

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "hmi", "designer"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        designer = []
        while time.monotonic() < deadline and not designer:
            children = psutil.Process(process.pid).children(recursive=True)
            designer = [c for c in children if c.name() == "designer"]
            time.sleep(0.2)
        assert designer, "Designer did not start"
        time.sleep(1.0)  # let it settle: its plugin is loaded
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        _, alive = psutil.wait_procs(designer, timeout=10)
        assert not alive, "Designer outlived `hmi designer`"
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate(timeout=10)[0]
    assert "no project: widgets preview without tags" in output
