"""The ``historian:`` section: every number range-checked where the project file is read.

``flush_interval: 0`` passed ``hmi check`` and made the historian flush in a busy loop
(~30,000 rows/s from 7 tags) until the disk was full; a negative ``max_interval`` stored
every sample.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hmi.project import load_project
from hmi.project.model import HistorianConfig
from tests.project.test_loader import errors_of

pytestmark = pytest.mark.timeout(30)

EXAMPLES = Path(__file__).parents[2] / "examples"
#: every example project (not the launch file, the scenario or the broker's policy)
PROJECTS = sorted(
    [p for p in EXAMPLES.glob("*.yaml") if not p.name.startswith("launch")]
    + [EXAMPLES / "three-protocols" / "plant.yaml"]
)


def historian_of(tmp_path: Path, section: str) -> HistorianConfig:
    path = tmp_path / "plant.yaml"
    path.write_text(f"name: p\n{section}\n")
    return load_project(path).historian


def messages(tmp_path: Path, text: str) -> list[str]:
    return [e.replace(str(tmp_path / "bad.yaml"), "bad.yaml") for e in errors_of(text, tmp_path)]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("flush_interval", "0", "expected seconds in 0.1..60, found 0"),
        ("flush_interval", "0.05", "expected seconds in 0.1..60, found 0.05"),
        ("flush_interval", "-1", "expected seconds in 0.1..60, found -1"),
        ("flush_interval", "61", "expected seconds in 0.1..60, found 61"),
        ("max_interval", "-5", "expected seconds in 1..86400, found -5"),
        ("max_interval", "0.5", "expected seconds in 1..86400, found 0.5"),
        ("max_interval", "86401", "expected seconds in 1..86400, found 86401"),
        ("retention_days", "0", "expected days above 0, at most 36525, found 0"),
        ("retention_days", "-1", "expected days above 0, at most 36525, found -1"),
        ("retention_days", "2592000", "expected days above 0, at most 36525, found 2.592e+06"),
        ("retention_days", ".nan", "expected a finite number, found .nan"),
        ("flush_interval", "fast", "expected a number, found str 'fast'"),
    ],
)
def test_a_number_out_of_range_is_reported_with_file_line_and_field(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    errors = messages(tmp_path, f"name: p\nhistorian:\n  path: h.sqlite\n  {field}: {value}\n")
    assert errors == [f"bad.yaml:4: historian.{field}: {message}"]


def test_every_error_of_the_section_at_once(tmp_path: Path) -> None:
    """The tester's file: each wrong number its own error, with the other sections'."""
    errors = messages(
        tmp_path,
        "name: p\n"
        "historian:\n"
        "  flush_interval: 0\n"
        "  max_interval: -5\n"
        "  retention_days: -1\n"
        "  enabled: maybe\n"
        "bus: {heartbeat_interval: 0}\n",
    )
    assert errors == [
        "bad.yaml:3: historian.flush_interval: expected seconds in 0.1..60, found 0",
        "bad.yaml:4: historian.max_interval: expected seconds in 1..86400, found -5",
        "bad.yaml:5: historian.retention_days: expected days above 0, at most 36525, found -1",
        "bad.yaml:6: historian.enabled: expected true or false, found str 'maybe'",
        "bad.yaml:7: bus.heartbeat_interval: expected seconds in 0.05..3600, found 0",
    ]


@pytest.mark.parametrize(
    "section",
    [
        "historian: {flush_interval: 0.1, max_interval: 1, retention_days: 0.001}",
        "historian: {flush_interval: 60, max_interval: 86400, retention_days: 36525}",
    ],
)
def test_the_bounds_themselves_are_accepted(tmp_path: Path, section: str) -> None:
    config = historian_of(tmp_path, section)
    assert 0.1 <= config.flush_interval <= 60
    assert 1 <= config.max_interval <= 86_400
    assert 0 < config.retention_days <= 36_525


def test_the_values_read_and_the_defaults(tmp_path: Path) -> None:
    assert historian_of(tmp_path, "") == HistorianConfig()
    assert historian_of(tmp_path, "historian: {}") == HistorianConfig()
    config = historian_of(
        tmp_path,
        "historian: {enabled: false, path: h.sqlite, flush_interval: 2, max_interval: 300,"
        " retention_days: 365}",
    )
    assert config == HistorianConfig(
        enabled=False,
        path=Path("h.sqlite"),
        flush_interval=2.0,
        max_interval=300.0,
        retention_days=365.0,
    )


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_every_example_project_is_within_the_bounds(project: Path) -> None:
    config = load_project(project).historian
    assert (config.flush_interval, config.max_interval) == (1.0, 60.0)
    assert 0 < config.retention_days <= 36_525
