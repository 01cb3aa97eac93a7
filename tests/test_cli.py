"""The ``hmi`` command as a user runs it: in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
