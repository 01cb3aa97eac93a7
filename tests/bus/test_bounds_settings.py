"""The broker's memory bounds as settings (docs/bus-protocol.md, "Bounds"): the project's
``bus.max_cache_entries`` and ``bus.forget_after``, checked as ``file:line: field``, and
``hmi broker``'s flags over them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

import hmi.bus.broker
from hmi.bus.broker.lvc import MAX_ENTRIES
from hmi.bus.broker.server import FORGET_AFTER
from hmi.cli import build_parser
from hmi.project import ProjectError, load_project


def project(tmp_path: Path, bus: str) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(f"name: bounds\nbuiltin_screens: false\nbus:\n{bus}")
    return path


def test_the_project_sets_the_brokers_bounds(tmp_path: Path) -> None:
    bus = load_project(project(tmp_path, "  max_cache_entries: 5000\n  forget_after: 90\n")).bus
    assert (bus.max_cache_entries, bus.forget_after) == (5000, 90.0)
    bus = load_project(project(tmp_path, "  mode: local\n")).bus
    assert (bus.max_cache_entries, bus.forget_after) == (None, None)  # the broker's defaults


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max_cache_entries: 0", "plant.yaml:5: bus.max_cache_entries: expected an integer in 1.."),
        ("max_cache_entries: 1.5", "plant.yaml:5: bus.max_cache_entries: expected an integer"),
        ("forget_after: 0", "plant.yaml:5: bus.forget_after: expected seconds above 0"),
        ("forget_after: -3", "plant.yaml:5: bus.forget_after: expected seconds above 0"),
        ("forget_after: .nan", "plant.yaml:5: bus.forget_after: expected a finite number"),
        ("forget_after: soon", "plant.yaml:5: bus.forget_after: expected a number"),
    ],
)
def test_bad_bounds_are_reported_with_their_line(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ProjectError) as raised:
        load_project(project(tmp_path, f"  mode: broker\n  {line}\n"))
    assert message in str(raised.value)


class Made(Exception):
    """Raised by a stand-in Broker with the options ``hmi broker`` gave it."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__("made")
        self.options = options


def options_of(monkeypatch: pytest.MonkeyPatch, *argv: str) -> dict[str, Any]:
    """The options ``hmi broker ARGV`` builds its Broker with (nothing is started)."""

    def broker(address: str, **options: Any) -> None:
        raise Made(options)

    monkeypatch.setattr(hmi.bus.broker, "Broker", broker)
    args: argparse.Namespace = build_parser().parse_args(["broker", *argv])
    with pytest.raises(Made) as made:
        args.handler(args)
    return made.value.options


def test_hmi_broker_takes_the_projects_bounds_and_its_flags_over_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(project(tmp_path, "  max_cache_entries: 5000\n  forget_after: 90\n"))
    options = options_of(monkeypatch, path)
    assert (options["max_cache_entries"], options["forget_after"]) == (5000, 90.0)
    options = options_of(monkeypatch, path, "--max-cache-entries", "7", "--forget-after", "2")
    assert (options["max_cache_entries"], options["forget_after"]) == (7, 2.0)
    options = options_of(monkeypatch)  # no project, no flags: the broker's defaults
    assert "max_cache_entries" not in options and "forget_after" not in options
    assert (MAX_ENTRIES, FORGET_AFTER) == (250_000, 3600.0)  # (as docs/bus-protocol.md says)


@pytest.mark.parametrize(
    "flags", [("--max-cache-entries", "0"), ("--forget-after", "0"), ("--forget-after", "nan")]
)
def test_hmi_broker_refuses_bounds_that_bound_nothing(
    flags: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["broker", *flags])
    assert args.handler(args) == 2
    assert f"hmi broker: {flags[0]}:" in capsys.readouterr().err
