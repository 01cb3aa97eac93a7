"""The PyInstaller one-folder build works: build it, then run the built binary's demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


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
    assert (tmp_path / "dist" / "hmi" / "_internal" / "resources" / "icons" / "hmi.svg").is_file()

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
