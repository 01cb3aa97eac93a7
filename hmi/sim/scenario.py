"""Scenario files: timed steps run against a simulated plant.

A scenario is YAML::

    name: Fill T-101
    unit: 1                      # which plant (default 1)
    steps:
      - {at: 0, set: area1/lic101/auto, value: false}
      - {at: 10, set: area1/fv101/command, value: 80}       # "at 10 s set FV-101 to 80 %"
      - {at: 10, expect: area1/t101/level, above: 2.0, within: 60}
      - {at: 80, fault: comm_loss, for: 5}                  # "inject comm loss for 5 s"
      - {at: 90, expect: pump_running, equals: false, for: 10}

Points are named by their demo-plant tag (``area1/t101/level``) or by signal (``level``).
Errors are reported like project file errors: ``file:line: field: message``; a fault's
options are checked by the rules of :mod:`hmi.sim.faults` (the ones injecting it applies).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from hmi.project.errors import ConfigError, FileErrors
from hmi.project.fields import Context, Fields
from hmi.project.yamlnode import YamlSyntaxError, compose
from hmi.sim.faults import FAULT_OPTIONS, SENSORS, Fault, check_duration, check_option
from hmi.sim.plant import COMMANDS, MEASUREMENTS, STATES, Value
from hmi.sim.registers import by_tag

_COMPARISONS = ("above", "below", "equals")
_SIGNALS = (*MEASUREMENTS, *STATES, *COMMANDS)
_FAULTS = tuple(f.value for f in Fault)


class ScenarioError(FileErrors):
    """A scenario file could not be loaded; ``errors`` lists every problem found."""

    what = "scenario file"


@dataclass(frozen=True, slots=True)
class SetStep:
    """Write ``value`` to command ``signal`` at ``at`` seconds."""

    at: float
    line: int
    point: str
    signal: str
    value: Value


@dataclass(frozen=True, slots=True)
class FaultStep:
    """Inject a fault at ``at`` seconds, for ``duration`` seconds (None: until cleared)."""

    at: float
    line: int
    kind: Fault
    duration: float | None
    options: tuple[tuple[str, float | str], ...] = ()


@dataclass(frozen=True, slots=True)
class ClearStep:
    """Clear one kind of fault (or all when ``kind`` is None) at ``at`` seconds."""

    at: float
    line: int
    kind: Fault | None


@dataclass(frozen=True, slots=True)
class Expectation:
    """``point`` compared with ``value``: at once, eventually ``within`` s, or ``during`` s."""

    at: float
    line: int
    point: str
    signal: str
    comparison: str
    value: Value
    within: float | None = None
    during: float | None = None

    def holds(self, actual: Value) -> bool:
        """True when ``actual`` satisfies the comparison."""
        if self.comparison == "equals":
            if isinstance(self.value, bool) or isinstance(actual, bool):
                return bool(actual) == bool(self.value)
            return abs(float(actual) - float(self.value)) <= 1e-6 * max(1.0, abs(self.value))
        if self.comparison == "above":
            return float(actual) > float(self.value)
        return float(actual) < float(self.value)

    def describe(self) -> str:
        """``area1/t101/level above 2.0 within 60 s``."""
        text = f"{self.point} {self.comparison} {_fmt(self.value)}"
        if self.within is not None:
            text += f" within {_fmt(self.within)} s"
        if self.during is not None:
            text += f" for {_fmt(self.during)} s"
        return text


Step = SetStep | FaultStep | ClearStep


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed scenario: actions and expectations sorted by time."""

    name: str
    file: str
    unit: int
    actions: tuple[Step, ...]
    expectations: tuple[Expectation, ...]

    @property
    def end(self) -> float:
        """The time by which every step has run and every expectation is decided."""
        times = [s.at for s in self.actions]
        times += [e.at + (e.within or 0.0) + (e.during or 0.0) for e in self.expectations]
        return max(times, default=0.0)


def load_scenario(path: str | Path, units: Collection[int] | None = None) -> Scenario:
    """Read and validate a scenario file; raise :class:`ScenarioError` on any problem.

    ``units``: the unit ids of the simulator that will run it (``Simulator.units``), when
    known; the scenario's ``unit`` must be one of them.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([ConfigError(str(path), 1, "(file)", f"cannot read: {exc}")]) from None
    return parse_scenario(text, path, units)


def parse_scenario(
    text: str, path: str | Path = "<scenario>", units: Collection[int] | None = None
) -> Scenario:
    """Validate scenario YAML ``text``; ``path`` names it in errors; ``units`` as for
    :func:`load_scenario`."""
    ctx = Context(str(path))
    try:
        root = compose(text, str(path))
    except YamlSyntaxError as exc:
        raise ScenarioError([exc.error]) from None
    top = Fields.of(root, "", ctx)
    if top is None:
        raise ScenarioError(ctx.errors)
    name = top.text("name", Path(path).stem)
    unit = top.integer("unit", 1, 1, 247)
    if unit is not None and units is not None and unit not in units:
        top.invalid("unit", f"the simulator has no unit {unit} (its units: {_ids(units)})")
    actions: list[Step] = []
    expectations: list[Expectation] = []
    if not top.has("steps"):
        ctx.error(top.node, "steps", "missing required field")
    for field, node in top.items("steps"):
        f = Fields.of(node, field, ctx)
        if f is None:
            continue
        step = _StepReader(f, ctx).read()
        f.finish()
        if isinstance(step, Expectation):
            expectations.append(step)
        elif step is not None:
            actions.append(step)
    top.finish()
    if ctx.errors:
        raise ScenarioError(ctx.errors)
    return Scenario(
        name=name,
        file=str(path),
        unit=unit,
        actions=tuple(sorted(actions, key=lambda s: s.at)),  # stable: file order within a time
        expectations=tuple(expectations),
    )


class _StepReader:
    """Reads one step: ``at`` plus exactly one of set, expect, fault, clear."""

    def __init__(self, f: Fields, ctx: Context) -> None:
        self.f, self.ctx = f, ctx

    def _error(self, key: str, message: str) -> None:
        self.ctx.error(self.f.node_of(key) or self.f.node, f"{self.f.path}.{key}", message)

    def read(self) -> Step | Expectation | None:
        f = self.f
        at = f.number("at")
        if at is not None and at < 0:
            self._error("at", "must not be negative")
            at = None
        kinds = [k for k in ("set", "expect", "fault", "clear") if f.has(k)]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            self.ctx.error(
                f.node, f.path, f"a step needs exactly one of set, expect, fault, clear ({found})"
            )
            for key in kinds:
                f.node_of(key)
            return None
        kind = kinds[0]
        if kind == "set":
            step: Step | Expectation | None = self._set(at)
        elif kind == "expect":
            step = self._expect(at)
        elif kind == "fault":
            step = self._fault(at)
        else:
            step = self._clear(at)
        return None if at is None else step

    def _signal(self, key: str, allowed: tuple[str, ...]) -> tuple[str, str] | None:
        point = self.f.text(key)
        if point is None:
            return None
        tags = by_tag()
        signal = tags[point].signal if point in tags else point
        if signal not in allowed:
            what = "a command" if allowed == COMMANDS else "a signal"
            self._error(key, f"{point!r} is not {what}: use a demo-plant tag or one of "
                        f"{', '.join(allowed)}")  # fmt: skip
            return None
        return point, signal

    def _set(self, at: float | None) -> SetStep | None:
        named = self._signal("set", COMMANDS)
        value = self.f.scalar("value")
        if named is None or value is None:
            return None
        if not isinstance(value, bool | int | float):
            self._error("value", f"expected a number or true/false, found {value!r}")
            return None
        return SetStep(at or 0.0, self.f.line, named[0], named[1], value)

    def _expect(self, at: float | None) -> Expectation | None:
        f = self.f
        named = self._signal("expect", _SIGNALS)
        given = [c for c in _COMPARISONS if f.has(c)]
        if len(given) != 1:
            self.ctx.error(f.node, f.path, "an expectation needs one of above, below, equals")
            for key in given:
                f.node_of(key)
            return None
        comparison = given[0]
        value = f.scalar(comparison)
        if comparison != "equals" and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            self._error(comparison, f"expected a number, found {value!r}")
            return None
        if value is not None and not isinstance(value, bool | int | float):
            self._error(comparison, f"expected a number or true/false, found {value!r}")
            return None
        within, during = f.number("within", None), f.number("for", None)
        if within is not None and during is not None:
            self._error("for", "use within (eventually) or for (all along), not both")
            return None
        for key, number in (("within", within), ("for", during)):
            if number is not None and number < 0:
                self._error(key, "must not be negative")
                return None
        if named is None or value is None:
            return None
        return Expectation(at or 0.0, f.line, named[0], named[1], comparison, value, within,
                           during)  # fmt: skip

    def _checked(self, key: str, value: Any, rule: Callable[[Any], Any]) -> Any:
        """``rule(value)`` (None when ``value`` is), or None after reporting its ValueError."""
        if value is None:
            return None
        try:
            return rule(value)
        except ValueError as exc:
            self._error(key, str(exc))
            return None

    def _fault(self, at: float | None) -> FaultStep | None:
        f = self.f
        kind = f.choice("fault", _FAULTS)
        duration = self._checked("for", f.number("for", None), check_duration)
        bad = f.has("for") and duration is None
        options: list[tuple[str, float | str]] = []
        # the options the kind takes, each read as its type and checked by the fault's rule
        for key, default in FAULT_OPTIONS.get(Fault(kind), {}).items() if kind else ():
            if key == "sensor":
                value = f.choice(key, SENSORS, default)  # suggests the sensor meant
            elif isinstance(default, int):
                value = f.integer(key, default)
            else:
                value = f.number(key, default)
            value = self._checked(key, value, partial(check_option, key))
            bad = bad or value is None
            options.append((key, value))
        if kind is None or bad:
            return None
        return FaultStep(at or 0.0, f.line, Fault(kind), duration, tuple(options))

    def _clear(self, at: float | None) -> ClearStep | None:
        kind = self.f.choice("clear", ("all", *_FAULTS))
        if kind is None:
            return None
        return ClearStep(at or 0.0, self.f.line, None if kind == "all" else Fault(kind))


def _ids(units: Collection[int]) -> str:
    """``1..10``, or ``1, 3`` when they do not follow each other."""
    ids = sorted(units)
    if len(ids) > 2 and ids == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}..{ids[-1]}"
    return ", ".join(map(str, ids)) or "none"


def _fmt(value: Value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}"
