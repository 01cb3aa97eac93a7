"""docs/simulated-plant.md's commissioning example runs as written: the ``plant_backend``
fixture's alarm engine raises the alarm a fault causes, and an operator's write goes
through the driver."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "simulated-plant.md"


def _saved(text: str, name: str) -> str:
    match = re.search(rf"Save as `{re.escape(name)}`.*?\n```\w*\n(.*?)```", text, re.S)
    assert match is not None, f"docs/simulated-plant.md has no {name}"
    return match.group(1)


def test_the_documented_commissioning_test_passes(tmp_path: Path) -> None:
    test_file = tmp_path / "test_commissioning.py"
    test_file.write_text(_saved(DOC.read_text(encoding="utf-8"), "test_commissioning.py"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
