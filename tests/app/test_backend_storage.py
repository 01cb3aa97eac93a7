"""``hmi backend`` and its data folder: an audit trail it cannot open stops it with one
line (without it, nothing could be done fail-closed), never a traceback."""

from __future__ import annotations

from pathlib import Path

from hmi.app import DEMO_PROJECT
from hmi.app.deployment import Deployment
from hmi.app.headless import NodeRole, run_headless
from hmi.project import load_project

BACKEND = NodeRole("hmi backend", services=True, drivers=False)


def test_a_backend_whose_audit_trail_cannot_be_opened_says_so_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "audit.sqlite").mkdir(parents=True)  # a folder where the file should be
    lines: list[str] = []
    code = run_headless(
        load_project(DEMO_PROJECT),
        Deployment("backend", local=True),
        BACKEND,
        data_dir=data,
        duration=5.0,
        say=lines.append,
    )
    assert code == 1
    assert lines == [
        "hmi backend backend: joining local bus (one process)",
        f"hmi backend backend: cannot start: {data / 'audit.sqlite'}: unable to open database file",
    ]


def test_a_backend_starts_and_stops_with_its_disk_watch(tmp_path: Path) -> None:
    lines: list[str] = []
    code = run_headless(
        load_project(DEMO_PROJECT),
        Deployment("backend", local=True),
        BACKEND,
        data_dir=tmp_path / "data",
        duration=0.2,
        say=lines.append,
    )
    assert code == 0, lines
    assert lines[-1] == "hmi backend backend: stopped"
