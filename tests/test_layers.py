"""The layer contracts of pyproject.toml hold, and fail when a forbidden import appears."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def run_lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "hmi", tmp_path / "hmi", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("hmi/core/leak.py", "import PySide6.QtCore", "core is pure"),
        ("hmi/core/leak.py", "import zmq", "core is pure"),
        ("hmi/core/leak.py", "from hmi.project import Project", "core is pure"),
        ("hmi/project/leak.py", "from PySide6 import QtWidgets", "backend layers never import Qt"),
        ("hmi/screens/leak.py", "import zmq", "GUI layers never import zmq"),
        ("hmi/screens/leak.py", "import pymodbus", "GUI layers never import zmq"),
        ("hmi/bus/leak.py", "import hmi.app.plant", "the whole package, deny by default"),
        ("hmi/services/leak.py", "import hmi.drivers.auth", "the whole package, deny by default"),
        ("hmi/app/leak.py", "import hmi.commands", "the whole package, deny by default"),
        # a new top-level part must be placed in the layers before it may exist
        ("hmi/newpart.py", "import hmi.core", "the whole package, deny by default"),
    ],
)
def test_a_forbidden_import_breaks_the_contracts(tree_copy, module, forbidden, contract):
    assert run_lint(tree_copy).returncode == 0
    (tree_copy / module).write_text(f"{forbidden}\n")
    result = run_lint(tree_copy)
    assert result.returncode != 0
    assert f"{contract}" in result.stdout
    assert "BROKEN" in result.stdout
