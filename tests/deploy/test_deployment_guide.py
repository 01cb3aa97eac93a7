"""docs/deployment.md, followed literally: every ``sh`` block of the guide runs as written.

What the test changes, and only that: ``HOME`` is a temporary folder; the install block is
skipped (``make test`` built the venv it makes; its PATH line still runs); the ports 5570
and 5020 become free ones (a machine running tests may use those); the operator stations
get ``--control stdio --user operator --password-stdin`` (a test cannot click Log in) and
Qt runs offscreen. Blocks that say "leave it running" are started and left running; the
others must succeed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bus.conftest import free_port_pair
from tests.deploy.processes import ROOT, Command, Station, processes, until
from tests.drivers.helpers import free_port

pytestmark = pytest.mark.slow

GUIDE = ROOT / "docs" / "deployment.md"
RUNNING = "# leave it running"


def blocks() -> list[str]:
    """The guide's ``sh`` blocks, in order."""
    return re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), re.S)


def test_the_guide_has_the_blocks_this_test_expects() -> None:
    found = blocks()
    assert found[0].startswith("python3 -m venv .venv")
    assert sum(RUNNING in block for block in found) == 6


def test_the_deployment_guide_works_as_written(tmp_path: Path) -> None:
    broker_port, plc_port = free_port_pair(), free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMI_")}
    env.update(
        HOME=str(home),
        QT_QPA_PLATFORM="offscreen",
        HMI_STATE_DIR=str(tmp_path / "state"),
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    )

    def ports(text: str) -> str:
        return text.replace("5570", str(broker_port)).replace("5020", str(plc_port))

    cwd = ROOT
    logs = tmp_path / "logs"
    logs.mkdir()
    with processes() as running:
        stations: list[Station] = []
        found = blocks()
        found[0] = found[0].split("\n", 1)[1]  # the install line: make test made the venv
        for number, block in enumerate(found):
            if RUNNING not in block:
                script = ports(block) + '\npwd > "$HMI_TEST_CWD"\n'
                where = tmp_path / "cwd"
                done = subprocess.run(
                    ["bash", "-ec", script],
                    cwd=cwd,
                    env={**env, "HMI_TEST_CWD": str(where)},
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert done.returncode == 0, f"block {number}:\n{block}\n{done.stderr}"
                cwd = Path(where.read_text().strip())
                project = cwd / "plant.yaml"
                if project.exists():  # copied from the examples: the test's ports
                    project.write_text(ports(project.read_text()))
                if "sed -i" in block:  # the edited file, as `hmi check` printed it
                    assert "OK" in done.stdout, done.stdout
                continue
            command = block.split("#", 1)[0].split()
            assert command[0] == "hmi", block
            name = f"block{number}-{command[1]}"
            if command[1] == "run":
                extra = ["--control", "stdio", "--user", "operator", "--password-stdin"]
                station = Station(name, *command[1:], *extra, env=env, log=logs / name, cwd=cwd)
                station.send_line("demo-operator")
                stations.append(station)
                running.append(station)
            else:
                args = [ports(arg) for arg in command[1:]]
                running.append(Command(name, *args, env=env, log=logs / name, cwd=cwd))

        assert len(stations) == 2
        for station in stations:
            until(lambda s=station: s.ask("status")["user"] == "operator", 40, "login")
            until(
                lambda s=station: s.ask("sample", tag="area1/t101/level")["quality"] == "GOOD",
                40,
                "live values",
            )
        one, two = stations
        assert one.ask("write", tag="area1/lic101/sp", value=2.75)["state"] == "confirmed"
        until(
            lambda: abs(two.ask("sample", tag="area1/lic101/sp")["value"] - 2.75) < 1e-6,
            10,
            "the other station sees the write",
        )
        two.ask("login", user="engineer", password="demo-engineer")  # may read the audit
        audit = two.ask("audit", limit=20)
        assert any(r["target"] == "area1/lic101/sp" and r["user"] == "operator" for r in audit)
