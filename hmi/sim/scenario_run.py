"""Running a scenario against a simulator and reporting which expectations held.

:class:`ScenarioRunner` is pure: call :meth:`ScenarioRunner.check` after every advance of
the plant. :func:`run_scenario` drives time, as fast as possible (tests) or on a clock while
the Modbus server stays up (``hmi sim --scenario --speed 50``), so an HMI can watch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hmi.bus.local.clock import Clock
from hmi.sim.faults import Fault
from hmi.sim.plant import Value
from hmi.sim.scenario import ClearStep, Expectation, FaultStep, Scenario, SetStep
from hmi.sim.server import Simulator
from hmi.sim.unit import SimUnit


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one expectation."""

    expectation: Expectation
    passed: bool
    time: float  # scenario seconds when it was decided
    value: Value  # the value seen then

    def __str__(self) -> str:
        e = self.expectation
        verdict = "PASS" if self.passed else "FAIL"
        if self.passed:
            how = "held" if e.during is not None else "met"
        else:
            how = "broken" if e.during is not None else "not met"
        return (
            f"{verdict}  line {e.line}: at {e.at:g} s expect {e.describe()}: {how} "
            f"at t={self.time:.1f} s (value {_fmt(self.value)})"
        )


@dataclass
class Report:
    """Every action taken and every expectation's outcome, in time order."""

    scenario: Scenario
    log: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return all(o.passed for o in self.outcomes)

    def __str__(self) -> str:
        s = self.scenario
        held = sum(o.passed for o in self.outcomes)
        lines = [f"scenario {s.name!r} ({s.file}), unit {s.unit}", *self.log]
        lines.append(
            f"{'PASSED' if self.passed else 'FAILED'}: {held} of {len(self.outcomes)} "
            "expectations held"
        )
        return "\n".join(lines)


class ScenarioRunner:
    """Applies the scenario's steps to one unit as its time passes."""

    def __init__(self, scenario: Scenario, unit: SimUnit) -> None:
        self.scenario = scenario
        self.unit = unit
        self.start = unit.plant.time
        self.report = Report(scenario)
        self._next_action = 0
        self._open: list[Expectation] = list(scenario.expectations)

    @property
    def elapsed(self) -> float:
        """Scenario seconds since the start."""
        return self.unit.plant.time - self.start

    @property
    def done(self) -> bool:
        """True once every action ran and every expectation is decided."""
        return self._next_action >= len(self.scenario.actions) and not self._open

    def check(self) -> None:
        """Run the actions that are due, then evaluate the open expectations."""
        t = self.elapsed + 1e-9  # float steps must not miss "at 10" by 1e-12
        actions = self.scenario.actions
        while self._next_action < len(actions) and actions[self._next_action].at <= t:
            self._act(actions[self._next_action])
            self._next_action += 1
        values = self.unit.faults.publish()
        for e in list(self._open):
            if e.at <= t:
                self._evaluate(e, values[e.signal], t)

    def _act(self, step: SetStep | FaultStep | ClearStep) -> None:
        faults = self.unit.faults
        if isinstance(step, SetStep):
            self.unit.plant.write(step.signal, step.value)
            text = f"set {step.point} = {_fmt(step.value)}"
        elif isinstance(step, FaultStep):
            faults.inject(step.kind, step.duration, **dict(step.options))
            extra = "".join(f" {k}={v}" for k, v in step.options)
            span = f" for {step.duration:g} s" if step.duration is not None else ""
            text = f"inject {step.kind.value}{extra}{span}"
        else:
            faults.clear(step.kind)
            text = f"clear {step.kind.value if isinstance(step.kind, Fault) else 'all faults'}"
        self.unit.refresh()
        self.report.log.append(f"      t={self.elapsed:7.1f} s  line {step.line}: {text}")

    def _evaluate(self, e: Expectation, value: Value, t: float) -> None:
        ok = e.holds(value)
        if e.during is not None:
            if not ok:
                self._decide(e, False, value)
            elif t >= e.at + e.during:
                self._decide(e, True, value)
        elif ok:
            self._decide(e, True, value)
        elif t >= e.at + (e.within or 0.0):
            self._decide(e, False, value)

    def _decide(self, e: Expectation, passed: bool, value: Value) -> None:
        self._open.remove(e)
        outcome = Outcome(e, passed, self.elapsed, value)
        self.report.outcomes.append(outcome)
        self.report.log.append(f"{outcome}")


async def run_scenario(
    sim: Simulator,
    scenario: Scenario,
    clock: Clock | None = None,
    step: float = 0.1,
    wake: float = 1.0,
) -> Report:
    """Run ``scenario`` on its unit of ``sim``; every unit advances together.

    Without ``clock`` time runs as fast as the CPU allows; with one, the simulator wakes every
    ``wake`` clock seconds and catches up in steps of ``step`` seconds (expectations are
    checked after each step).
    """
    runner = ScenarioRunner(scenario, sim.unit(scenario.unit))
    runner.check()
    if clock is None:
        while not runner.done:
            sim.advance(step)
            runner.check()
        return runner.report
    last = clock.monotonic()
    while not runner.done:
        await clock.sleep(wake)
        now = clock.monotonic()
        pending, last = now - last, now
        while pending > 1e-9 and not runner.done:
            h = min(step, pending)
            sim.advance(h)
            runner.check()
            pending -= h
    return runner.report


def _fmt(value: Value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:.4g}"
