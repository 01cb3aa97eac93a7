"""The services of a plant as systemd runs them: the unit templates name real commands, and
every long-running command stops cleanly (exit 0) on SIGTERM, systemd's stop signal."""

from __future__ import annotations

import configparser
import shlex
import signal
from pathlib import Path

import pytest

from hmi.cli import build_parser
from tests.bus.conftest import free_port_pair
from tests.deploy.processes import ROOT, Command, control_room_project, environment
from tests.drivers.helpers import free_port

UNITS = sorted((ROOT / "packaging" / "systemd").glob("*.service"))


def test_there_are_units_for_the_broker_driver_nodes_and_the_backend() -> None:
    assert [unit.name for unit in UNITS] == [
        "hmi-backend.service",
        "hmi-broker.service",
        "hmi-node@.service",
    ]


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_each_unit_runs_an_hmi_command_that_parses(unit: Path) -> None:
    config = configparser.ConfigParser(interpolation=None, strict=False)
    config.read(unit)
    argv = shlex.split(config["Service"]["ExecStart"].replace("%i", "drivers"))
    assert argv[0] == "/opt/hmi/bin/hmi"
    args = build_parser().parse_args(argv[1:])
    assert args.handler is not None
    assert Path(args.project) == Path("/srv/hmi/plant.yaml")
    assert config["Install"]["WantedBy"] == "multi-user.target"
    assert config["Service"]["Restart"] == "on-failure"


@pytest.mark.slow
def test_every_long_running_command_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    broker_port, plc_port = free_port_pair(), free_port()
    project = control_room_project(tmp_path, broker_port=broker_port, plc_port=plc_port)
    env = environment(tmp_path)
    keys = Command(
        "keys",
        *("keys", "generate", "broker", "drivers", "backend", "station", "station-2"),
        *("--dir", str(tmp_path / "keys")),
        env=env,
        log=tmp_path / "keys.log",
    )
    assert keys.proc.wait(30) == 0
    commands = {
        "broker": ("broker", str(project), "--quiet"),
        "sim": ("sim", "--port", str(plc_port)),
        "node": ("node", str(project)),
        "backend": ("backend", str(project), "--data", str(tmp_path / "data")),
        "run": ("run", str(project)),
    }
    ready = {
        "broker": "checked path",
        "sim": "hmi sim:",
        "node": "; ready",
        "backend": "; ready",
        "run": "connected to broker",
    }
    running = {}
    try:
        for name, args in commands.items():
            running[name] = Command(name, *args, env=env, log=tmp_path / f"{name}.log")
            running[name].wait_for(ready[name], 30)
    finally:
        codes = {name: c.stop(signal.SIGTERM) for name, c in reversed(running.items())}
    assert codes == dict.fromkeys(commands, 0), {n: running[n].text()[-800:] for n in codes}
    assert "stopped" in running["node"].text()
    assert "stopped" in running["backend"].text()
