"""Calculated tags in project files: a bad expression is a file:line:field error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hmi.core.expression import Expression
from hmi.project import ProjectError, load_project

HEAD = """\
name: Test plant
devices:
  - name: plc1
tags:
  - name: a/t/level
    device: plc1
    address: hr:0
"""


def errors_of(body: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "))
    with pytest.raises(ProjectError) as info:
        load_project(path)
    return [str(e).replace(str(path), "bad.yaml") for e in info.value.errors]


def test_the_example_expression_parses_and_references_a_real_tag() -> None:
    project = load_project(Path(__file__).parents[2] / "examples" / "small-plant.yaml")
    volume = project.tags["area1/t101/volume"]
    assert volume.expression is not None
    assert Expression.parse(volume.expression).tags == ("area1/t101/level",)


def test_a_good_expression_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(HEAD + '  - name: a/t/volume\n    expression: "{a/t/level} * 3.14"\n')
    assert load_project(path).tags["a/t/volume"].expression == "{a/t/level} * 3.14"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ('"{a/t/level} *"', "syntax error"),
        ('"__import__(1)"', "only the functions"),
        ('"{a/t/nothing} + 1"', "unknown tag 'a/t/nothing'"),
        ('"a/t/level * 2"', "unknown name 'a'"),
        ('"{a/t/volume} + 1"', "refers to itself"),
    ],
)
def test_bad_expressions_name_file_line_and_field(
    tmp_path: Path, expression: str, message: str
) -> None:
    errors = errors_of(f"  - name: a/t/volume\n    expression: {expression}\n", tmp_path)
    assert len(errors) == 1, errors
    assert errors[0].startswith("bad.yaml:9: tags[1].expression: "), errors[0]
    assert message in errors[0]


def test_circular_calculations_are_refused(tmp_path: Path) -> None:
    body = """\
      - name: a/t/x
        expression: "{a/t/y} + 1"
      - name: a/t/y
        expression: "{a/t/x} * 2"
    """
    errors = errors_of(body, tmp_path)
    assert any("circular: a/t/x -> a/t/y -> a/t/x" in e for e in errors), errors
