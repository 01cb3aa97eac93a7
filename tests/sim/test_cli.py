"""``hmi sim``: fault specs, a scenario at --speed 50, a bounded free run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hmi.cli import main
from hmi.commands.sim import parse_fault

ROOT = Path(__file__).resolve().parents[2]


def test_fault_specs() -> None:
    assert parse_fault("freeze:level@10") == ("freeze", {"sensor": "level"}, 10.0)
    assert parse_fault("comm_loss@5") == ("comm_loss", {}, 5.0)
    # checked and typed as inject checks them, the kind's defaults filled in
    assert parse_fault("exception:4") == ("exception", {"code": 4}, None)
    assert parse_fault("noise:temperature") == (
        "noise",
        {"sensor": "temperature", "amplitude": 0.02},
        None,
    )
    with pytest.raises(ValueError):
        parse_fault("pump_trip:now")
    with pytest.raises(ValueError):
        parse_fault("meltdown")


def test_scenario_runs_at_speed_50_and_reports(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = ROOT / "examples" / "scenarios" / "fill-pump-heat.yaml"
    start = time.monotonic()
    code = main(["sim", "--port", "0", "--speed", "50", "--scenario", str(scenario)])
    elapsed = time.monotonic() - start
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASSED: 11 of 11 expectations held" in out
    assert "PASS  line 12: at 5 s expect area1/fv101/position above 79 within 20 s" in out
    # 123 simulated seconds at 50x: about 2.5 s, not 2 minutes
    assert elapsed < 15


def test_bad_scenario_file_exits_1_with_file_line_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - {at: 1, set: nothing, value: 1}\n", encoding="utf-8")
    assert main(["sim", "--port", "0", "--scenario", str(bad)]) == 1
    assert f"{bad}:2: steps[0].set: 'nothing' is not a command" in capsys.readouterr().err


def test_free_run_stops_after_duration(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sim", "--port", "0", "--devices", "3", "--speed", "100", "--duration", "20"]
    assert main([*args, "--fault", "noise:temperature"]) == 0
    assert "3 plant(s) as unit ids 1, 2, 3 on 127.0.0.1:" in capsys.readouterr().out


def test_bad_fault_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--port", "0", "--fault", "meltdown"]) == 2
    assert "--fault" in capsys.readouterr().err
