"""The PyInstaller one-folder build works: build it, then run the built binary's demo."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]


@pytest.mark.slow
def test_packaged_binary_runs_the_demo(tmp_path):
    pyinstaller = Path(sys.executable).with_name("pyinstaller")
    build = subprocess.run(
        [
            str(pyinstaller),
            "--noconfirm",
            "--log-level",
            "ERROR",
            "--distpath",
            str(tmp_path / "dist"),
            "--workpath",
            str(tmp_path / "build"),
            str(ROOT / "packaging" / "hmi.spec"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    binary = tmp_path / "dist" / "hmi" / "hmi"
    assert binary.is_file()
    # The desktop entry and icon travel with the build.
    assert (tmp_path / "dist" / "hmi" / "_internal" / "hmi.desktop").is_file()
    assert (
        tmp_path / "dist" / "hmi" / "_internal" / "hmi" / "qt" / "resources" / "icons" / "hmi.svg"
    ).is_file()

    png = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [str(binary), "demo", "--screenshot", str(png), "--duration", "3"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_wheel_carries_theme_icon_screens_and_examples_resolve(tmp_path):
    """A plain ``pip install`` finds the theme, icon and demo screens (package data)."""
    build = subprocess.run(
        [*PIP_WHEEL, "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = tmp_path.glob("hmi_scada-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "hmi/qt/resources/theme.qss" in names
    assert "hmi/qt/resources/icons/hmi.svg" in names
    assert "hmi/screens/ui/overview.ui" in names
