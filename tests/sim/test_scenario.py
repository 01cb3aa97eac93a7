"""Scenario files: validation errors in the project's style, runs and reports."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hmi.sim.scenario import ScenarioError, load_scenario, parse_scenario
from hmi.sim.scenario_run import run_scenario
from hmi.sim.server import Simulator

ROOT = Path(__file__).resolve().parents[2]


def _run(text: str) -> str:
    report = asyncio.run(run_scenario(Simulator(), parse_scenario(text, "t.yaml")))
    return str(report)


def test_example_scenario_passes_every_expectation() -> None:
    scenario = load_scenario(ROOT / "examples" / "scenarios" / "fill-pump-heat.yaml")
    report = asyncio.run(run_scenario(Simulator(), scenario))
    assert report.passed, str(report)
    assert len(report.outcomes) == len(scenario.expectations) >= 10


def test_report_says_which_expectation_failed_and_why() -> None:
    text = """
name: demo
steps:
  - {at: 0, set: area1/fv101/command, value: 80}
  - {at: 0, expect: area1/t101/level, above: 4.0, within: 30}
  - {at: 0, expect: area1/fv101/position, above: 50, within: 30}
"""
    report = _run(text)
    assert "FAIL  line 5: at 0 s expect area1/t101/level above 4 within 30 s: not met" in report
    assert "PASS  line 6:" in report
    assert report.endswith("FAILED: 1 of 2 expectations held")


def test_for_expectation_breaks_on_the_first_violation() -> None:
    text = """
steps:
  - {at: 0, set: pump_run, value: true}
  - {at: 1, expect: pump_running, equals: true, for: 20}
  - {at: 5, fault: pump_trip}
"""
    report = _run(text)
    assert "FAIL  line 4: at 1 s expect pump_running equals true for 20 s: broken at t=5.1 s" in (
        report
    )


def test_timed_fault_is_lifted_after_its_duration() -> None:
    text = """
steps:
  - {at: 1, fault: freeze, sensor: level, for: 5}
  - {at: 1, set: pump_run, value: true}
  - {at: 2, expect: level, equals: 2.5, for: 3.5}
  - {at: 7, expect: level, below: 2.495}
"""
    report = _run(text)
    assert "PASSED: 2 of 2" in report, report


def test_errors_name_file_line_and_field() -> None:
    text = """name: bad
unit: 300
steps:
  - {at: -1, set: area1/t101/level, value: 3}
  - {at: 5, expect: level, abov: 2}
  - {at: 5, fault: comm_los}
  - {at: 5, set: pump_run, value: true, expect: level}
  - {at: 6, set: level_sp, vale: 3}
"""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "bad.yaml")
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0].endswith("errors in scenario file")
    assert "bad.yaml:2: unit: expected an integer in 1..247, found 300" in lines
    assert "bad.yaml:4: steps[0].at: must not be negative" in lines
    assert any(
        line.startswith("bad.yaml:4: steps[0].set: 'area1/t101/level' is not a command")
        for line in lines
    )
    assert "bad.yaml:5: steps[1]: an expectation needs one of above, below, equals" in lines
    assert "bad.yaml:5: steps[1].abov: unknown field" in lines
    assert any(line.startswith("bad.yaml:6: steps[2].fault: expected one of") for line in lines)
    assert "(did you mean 'comm_loss'?)" in message
    assert any(
        line.startswith("bad.yaml:7: steps[3]: a step needs exactly one of") for line in lines
    )
    assert "bad.yaml:8: steps[4].value: missing required field" in lines


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario("steps: [\n  {at: 1\n", "broken.yaml")
    assert str(info.value).splitlines()[1].startswith("broken.yaml:")
