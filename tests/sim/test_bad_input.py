"""Bad input to ``hmi sim`` is refused before the plant starts: one line per mistake (status
2) for ``--fault`` and ``--port``, ``file:line: field: message`` lines (status 1) for a
scenario file; never a traceback. The command line, the scenario loader and the fault API
apply the same rules (:mod:`hmi.sim.faults`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hmi.cli import main
from hmi.sim.faults import EXCEPTION_CODES, SENSORS, Fault, check_exception_code
from hmi.sim.scenario import FaultStep, ScenarioError, parse_scenario
from hmi.sim.unit import SimUnit
from tests.ports import free_port

pytestmark = pytest.mark.timeout(60)

_HMI = Path(sys.executable).with_name("hmi")
#: the installed command when there is one (the virtualenv's), else the module
HMI = [str(_HMI)] if _HMI.exists() else [sys.executable, "-m", "hmi"]

SENSOR_LIST = ", ".join(SENSORS)
CODE_LIST = ", ".join(map(str, EXCEPTION_CODES))


def _hmi_sim(*args: str) -> subprocess.CompletedProcess[str]:
    """``hmi sim ARGS`` on a free port; should a check fail to refuse, the plant only runs a
    second of simulated time (fast), so a test fails on its status instead of hanging."""
    command = [*HMI, "sim", "--port", str(free_port()), "--speed", "50", "--duration", "1"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=30, cwd=Path(__file__).parent
    )


def _refused(result: subprocess.CompletedProcess[str], status: int) -> list[str]:
    """stderr's lines, once sure the command exited with ``status`` before serving."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == status, result.stdout + result.stderr
    assert "plant(s) as unit ids" not in result.stdout, result.stdout  # it never served
    return result.stderr.splitlines()


# -- the command, as a process ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--fault", "freeze:lvl"],
            f"hmi sim: --fault freeze:lvl: unknown sensor 'lvl' (sensors: {SENSOR_LIST})",
        ),
        (
            ["--fault", "exception:7"],
            f"hmi sim: --fault exception:7: exception code must be one of {CODE_LIST}, not 7",
        ),
        (["--fault", "slow:-1"], "hmi sim: --fault slow:-1: delay must be 0 or more, not -1"),
        (
            ["--fault", "noise:level:0.5"],
            "hmi sim: --fault noise:level:0.5: noise takes one argument (the sensor), "
            "not 'level:0.5'",
        ),
        (
            ["--fault", "freez:level"],
            f"hmi sim: --fault freez:level: unknown fault kind 'freez' (kinds: {', '.join(Fault)})",
        ),
    ],
    ids=["unknown-sensor", "exception-code", "negative-delay", "arity", "unknown-kind"],
)
def test_a_bad_fault_is_one_line_and_status_2(args: list[str], line: str) -> None:
    assert _refused(_hmi_sim(*args), 2) == [line]


def test_a_port_out_of_range_is_one_line_and_status_2() -> None:
    # the last --port wins: 99999 replaces the free one
    lines = _refused(_hmi_sim("--port", "99999"), 2)
    assert lines == ["hmi sim: --port 99999: expected a TCP port in 0..65535 (0 = any free port)"]


def test_every_bad_argument_is_reported_at_once() -> None:
    result = _hmi_sim("--fault", "comm_loss@2", "--fault", "slow:abc", "--fault", "pump_trip:x")
    assert _refused(result, 2) == [
        "hmi sim: --fault slow:abc: delay must be a number, not 'abc'",
        "hmi sim: --fault pump_trip:x: pump_trip takes no argument",
    ]


def test_a_scenario_with_bad_fault_values_exits_1_with_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "steps:\n"
        "  - {at: 1, fault: exception, code: 7}\n"
        "  - {at: 1, fault: noise, sensor: level, amplitude: -3}\n",
        encoding="utf-8",
    )
    assert _refused(_hmi_sim("--scenario", str(bad)), 1) == [
        "2 errors in scenario file",
        f"{bad}:2: steps[0].code: exception code must be one of {CODE_LIST}, not 7",
        f"{bad}:3: steps[1].amplitude: amplitude must be 0 or more, not -3",
    ]


def test_a_scenario_for_a_unit_the_simulator_lacks_exits_1_before_serving(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "unit3.yaml"
    scenario.write_text("name: unit 3\nunit: 3\nsteps:\n  - {at: 1, fault: pump_trip}\n")
    assert _refused(_hmi_sim("--scenario", str(scenario)), 1) == [
        "1 error in scenario file",
        f"{scenario}:2: unit: the simulator has no unit 3 (its units: 1)",
    ]


# -- the command, in this process (more cases, faster) ---------------------------------------
@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--fault", "exception:x"], "--fault exception:x: exception code must be an integer"),
        (["--fault", "freeze:"], "--fault freeze:: freeze needs a sensor after ':'"),
        (["--fault", "comm_loss@"], "--fault comm_loss@: the seconds after '@' are missing"),
        (["--fault", "comm_loss@-3"], "--fault comm_loss@-3: duration must be 0 or more"),
        (["--fault", "noise:level@nan"], "--fault noise:level@nan: duration must be a finite"),
        (["--fault", "slow:inf"], "--fault slow:inf: delay must be a finite number"),
        (["--port", "-1"], "--port -1: expected a TCP port in 0..65535"),
        (["--speed", "nan"], "--speed nan: expected a finite number above 0"),
        (["--duration", "-1"], "--duration -1: expected a finite number, 0 or more"),
    ],
)
def test_more_bad_arguments_are_usage_errors(
    args: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", "--port", "0", "--duration", "0", *args]) == 2
    captured = capsys.readouterr()
    (err,) = captured.err.splitlines()
    assert err.startswith(f"hmi sim: {line}"), err
    assert captured.out == ""


def test_a_scenario_for_unit_3_runs_with_three_devices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "unit3.yaml"
    scenario.write_text("unit: 3\nsteps:\n  - {at: 1, fault: noise, amplitude: 0.5}\n")
    args = ["sim", "--port", "0", "--speed", "50", "--devices", "3", "--scenario", str(scenario)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "line 3: inject noise sensor=level amplitude=0.5" in out


# -- the loader --------------------------------------------------------------------------------
def _errors(text: str, units: range | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "s.yaml", units)
    return [str(e) for e in info.value.errors]


@pytest.mark.parametrize(
    ("step", "error"),
    [
        (
            "{at: 1, fault: exception, code: 7}",
            f"steps[0].code: exception code must be one of {CODE_LIST}, not 7",
        ),
        (
            "{at: 1, fault: exception, code: 0}",
            f"steps[0].code: exception code must be one of {CODE_LIST}, not 0",
        ),
        ("{at: 1, fault: exception, code: 4.5}", "steps[0].code: expected an integer, found float"),
        (
            "{at: 1, fault: noise, sensor: level, amplitude: -3}",
            "steps[0].amplitude: amplitude must be 0 or more, not -3",
        ),
        (
            "{at: 1, fault: noise, amplitude: .nan}",
            "steps[0].amplitude: expected a finite number, found .nan",
        ),
        ("{at: 1, fault: slow, delay: -1}", "steps[0].delay: delay must be 0 or more, not -1"),
        (
            "{at: 1, fault: slow, delay: soon}",
            "steps[0].delay: expected a number, found str 'soon'",
        ),
        ("{at: 1, fault: comm_loss, for: -2}", "steps[0].for: duration must be 0 or more, not -2"),
        ("{at: 1, fault: freeze, sensor: lvl}", "steps[0].sensor: expected one of level, "),
        ("{at: 1, fault: comm_loss, code: 4}", "steps[0].code: unknown field"),
        ("{at: 1, expect: level, equals: full}", "steps[0].equals: expected a number or true/"),
    ],
)
def test_the_loader_refuses_each_bad_value_with_its_line(step: str, error: str) -> None:
    (line,) = _errors(f"name: bad\nsteps:\n  - {step}\n")
    assert line.startswith(f"s.yaml:3: {error}"), line


def test_the_loader_reports_every_bad_value_at_once() -> None:
    text = """steps:
  - {at: 1, fault: exception, code: 7}
  - {at: 2, fault: noise, sensor: level, amplitude: -3}
  - {at: 3, fault: slow, delay: -1, for: -1}
"""
    assert [e.split(": ", 2)[:2] for e in _errors(text)] == [
        ["s.yaml:2", "steps[0].code"],
        ["s.yaml:3", "steps[1].amplitude"],
        ["s.yaml:4", "steps[2].delay"],
        ["s.yaml:4", "steps[2].for"],
    ]


def test_the_unit_must_be_one_of_the_simulators_when_they_are_known() -> None:
    text = "name: u\nunit: 3\nsteps:\n  - {at: 1, fault: pump_trip}\n"
    assert parse_scenario(text, "s.yaml").unit == 3  # units unknown: 1..247
    assert parse_scenario(text, "s.yaml", range(1, 4)).unit == 3
    assert _errors(text, range(1, 2)) == [
        "s.yaml:2: unit: the simulator has no unit 3 (its units: 1)"
    ]
    assert _errors(text.replace("unit: 3", "unit: 30"), range(1, 11)) == [
        "s.yaml:2: unit: the simulator has no unit 30 (its units: 1..10)"
    ]
    # the default unit (1) is checked too, against the first line
    assert _errors("steps:\n  - {at: 1, fault: pump_trip}\n", range(2, 4)) == [
        "s.yaml:1: unit: the simulator has no unit 1 (its units: 2, 3)"
    ]


def test_good_fault_steps_carry_checked_typed_options() -> None:
    scenario = parse_scenario(
        "steps:\n"
        "  - {at: 1, fault: exception, code: 10, for: 2}\n"
        "  - {at: 1, fault: noise, sensor: temperature, amplitude: 0.5}\n"
        "  - {at: 1, fault: slow}\n"
    )
    assert scenario.actions == (
        FaultStep(1.0, 2, Fault.EXCEPTION, 2.0, (("code", 10),)),
        FaultStep(1.0, 3, Fault.NOISE, None, (("sensor", "temperature"), ("amplitude", 0.5))),
        FaultStep(1.0, 4, Fault.SLOW, None, (("delay", 1.0),)),
    )


# -- the fault API applies the same rules, before anything changes ---------------------------
def test_inject_checks_everything_before_it_acts() -> None:
    unit = SimUnit(1)
    with pytest.raises(ValueError) as info:
        unit.faults.inject("exception", 5.0, code=7)
    with pytest.raises(ValueError) as same:
        check_exception_code(7)
    assert str(info.value) == str(same.value)
    with pytest.raises(ValueError, match="duration must be 0 or more, not -1"):
        unit.faults.inject("comm_loss", -1)
    with pytest.raises(ValueError, match=r"unknown fault kind 'freez' \(kinds: comm_loss, "):
        unit.faults.inject("freez")
    assert unit.faults.active == []
