"""``hmi backend`` as a user starts it: it names every account still on the demo plant's
published passwords, and ``--duration`` bounds its wait for a broker too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.processes import (
    ROOT,
    Command,
    control_room_project,
    environment,
    plain_control_room_project,
    processes,
)
from tests.ports import free_port, free_port_pair

pytestmark = pytest.mark.slow


def _hmi(
    *args: str, env: dict[str, str], stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hmi", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.timeout(120)
def test_the_backend_names_the_accounts_still_on_demo_passwords(tmp_path: Path) -> None:
    project = plain_control_room_project(tmp_path)
    env = environment(tmp_path)
    changed = _hmi(
        "passwd", str(project), "operator", "--password-stdin", env=env, stdin="s3cret-op\n"
    )
    assert changed.returncode == 0, changed.stderr
    with processes() as started:
        started.append(
            Command("broker", "broker", str(project), "--quiet", env=env, log=tmp_path / "b")
        )
        backend = Command(
            "backend",
            "backend",
            str(project),
            "--data",
            str(tmp_path / "data"),
            env=env,
            log=tmp_path / "backend",
        )
        started.append(backend)
        backend.wait_for("ready", 60)
        backend.wait_for("user 'viewer' still has the demo password", 30)
        for user in ("engineer", "admin"):
            backend.wait_for(f"user {user!r} still has the demo password anyone can read", 30)
        backend.wait_for(f"hmi passwd {project.name} admin", 30)
    assert "'operator' still has" not in backend.text()  # its password was set


@pytest.mark.timeout(60)
def test_duration_bounds_the_wait_for_a_broker(tmp_path: Path) -> None:
    project = plain_control_room_project(tmp_path)  # its broker is never started
    done = _hmi(
        "backend",
        str(project),
        "--data",
        str(tmp_path / "data"),
        "--duration",
        "1",
        env=environment(tmp_path),
    )
    assert done.returncode == 1
    assert "no broker answered in --duration 1 s" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.timeout(90)
def test_a_station_whose_plant_cannot_start_says_why_and_exits(tmp_path: Path) -> None:
    """``hmi run --local`` runs the plant's backend itself: a data file it cannot use is
    one line and exit 1, as for ``hmi backend`` (was a traceback and a window left open
    on a plant that never ran)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "sessions.json").write_text("garbage{")
    env = {**environment(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    done = _hmi(
        "run",
        str(ROOT / "examples" / "small-plant.yaml"),
        "--local",
        "--data",
        str(data),
        "--duration",
        "30",
        env=env,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"cannot start: {data / 'sessions.json'}: cannot read the revoked sessions" in (
        done.stderr
    )


@pytest.mark.timeout(60)
def test_a_missing_key_file_is_named_at_its_own_line(tmp_path: Path) -> None:
    """The error named the line of ``bus:``, not of the field that names the key."""
    project = control_room_project(tmp_path, broker_port=free_port_pair(), plc_port=free_port())
    lines = project.read_text().splitlines()
    node_key = next(n for n, text in enumerate(lines, 1) if "node_key:" in text)
    done = _hmi(
        "node",
        project.name,
        "--name",
        "station-9",
        "--duration",
        "1",
        env={**environment(tmp_path)},
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert (
        f"plant.yaml:{node_key}: bus.curve.node_key: keys/station-9.key_secret: no such key file"
        in done.stderr
    ), done.stderr
    assert "Traceback" not in done.stderr
