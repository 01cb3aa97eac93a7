"""The fast path of the tag section (hmi.project.fast_tags) reads exactly what the slow one does.

The loader reads a tag of the common shape in one go and hands anything else to
TagReader. The fast path reports nothing itself, so what must hold is: every file gives
the same project, or the same errors, with it and without it. Checked on the examples, on
a project of every common shape, on each field of that project given tricky values, and
on mutated copies of it (the mutations of test_mutated_files).
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml.nodes import Node

from hmi.core.tag import Tag
from hmi.project import ProjectError, loader, parse_project
from hmi.project.fast_tags import FastTags
from hmi.project.yamlnode import (
    _NOT_PRINTABLE,
    _PRINTABLE_ASCII,
    CONTROL,
    compose,
    may_hold_controls,
)
from tests.project.test_mutated_files import EXAMPLES, HOSTILE_VALUES, SNIPPETS, SOURCES, SYNTAX

#: a project with a tag of every shape the fast path reads, and a few it leaves
SHAPES = """\
name: Shapes
roles: [viewer, operator, engineer]
poll_groups: {fast: 0.5, normal: 1.0}
builtin_screens: false
devices:
  - {name: plc1, host: 127.0.0.1, port: 5020}
  - {name: plc2, protocol: modbus-rtu, serial_port: /dev/ttyUSB0}
tags:
  - name: area1/t101/level
    description: Tank level
    type: float32
    unit: m
    device: plc1
    address: ir:0
    poll_group: fast
    format: .2f
    deadband: 0.01
    limits: {low: 0, high: 5}
    alarms: {lolo: 0.3, lo: 0.8, hi: 4.2, hihi: 4.6, deadband: 0.05, priority: 2, \
on_delay: 1, off_delay: 2.5, message: Tank level, bad_quality: alarm}
  - name: area1/p101/running
    type: bool
    device: plc1
    address: di:0
    alarms: {state: false, priority: 1, message: Pump stopped}
  - name: area1/p101/start
    type: bool
    device: plc1
    address: co:0
    write_roles: [operator, engineer]
    settle: 0
  - name: area1/p101/mode
    type: bool
    device: plc1
    address: hr:7.3
    write_roles: operator
  - name: area1/fv101/command
    type: uint16
    unit: "%"
    device: plc2
    address: hr:21
    settle: 2.5
    scaling: {raw_min: 0, raw_max: 10000, eng_min: 0, eng_max: 100}
    limits: {high: 100}
  - name: area1/fv101/label
    type: string
    device: plc1
    address: hr:100
    length: 8
    byte_order: little
    word_order: little
  - name: area1/fv101/count
    type: int64
    device: plc1
    address: ir:65532
  - name: area1/fv101/state
    type: int16
    device: plc1
    address: ir:9
    alarms: {state: 3}
  - name: area1/calc/memory
    type: float64
    poll_group: nowhere
    deadband: -1
    limits: {low: -0.0, high: 0}
  - name: area1/calc/text
    type: string
    write_roles: []
    description: "quoted \\t tab"
  - name: area1/calc/sum
    expression: "{area1/t101/level} + 1"
  - name: area1/calc/hidden
    device: plc1
    address: ir:30
    alarms: {hi: 1, suppress_when: "{area1/p101/running} == 0"}
screens: []
"""
PATH = EXAMPLES / "shapes.yaml"
#: values a field of a tag is given in turn: each must be read alike by both paths
OWN_TRICKY = [
    "",
    "0",
    "-0",
    "010",
    "0o10",
    "0x10",
    "1_000",
    "1:30",
    "1.5",
    "!!float 1",
    "!!str 1",
    "!!str float32",
    "!!null x",
    "true",
    "off",
    "big",
    "little",
    "float32",
    "bool",
    "string",
    "operator",
    "[operator, admin]",
    "[operator, 1]",
    "plc1",
    "plc2",
    "plc9",
    "hr:65535",
    "ir:65534",
    "di:3",
    "co:1.2",
    "fast",
    "nowhere",
    "123",
    "124",
    "{low: 1, high: 0}",
    "{low: 1, high: 1, x: 2}",
    "{raw_min: 1, raw_max: 1, eng_min: 0, eng_max: 1}",
    "{raw_min: 0, raw_max: 1, eng_min: 0}",
    "{lo: 5, hi: 1}",
    "{priority: 5}",
    "{priority: true}",
    "{state: ~}",
    "{state: [1]}",
    "{bad_quality: clear}",
    "{deadband: -1}",
    '"a\\0b"',
    '"\\x85"',
    '"ok"',
    "'area1/x/y'",
    "area1/x",
    "area1/t101/level",
    "'area1/x/y\n'",
    "&anchor area1/x/y",
]
TRICKY = [*HOSTILE_VALUES[:60], *OWN_TRICKY]
#: for the fields of a nested mapping (limits: {low: 0}): the numbers and texts above
NESTED_TRICKY = [*HOSTILE_VALUES[:20], *OWN_TRICKY]


def outcome(text: str, *, fast: bool) -> str:
    """The project read from ``text`` (its repr: -0.0 and 0.0 differ there), or its errors."""
    loader.FAST_TAGS, was = fast, loader.FAST_TAGS
    try:
        return repr(parse_project(text, PATH))
    except ProjectError as exc:
        return "\n".join(map(str, exc.errors))
    finally:
        loader.FAST_TAGS = was


def assert_alike(text: str) -> None:
    assert outcome(text, fast=True) == outcome(text, fast=False)


def test_the_shapes_project_loads_alike_and_mostly_on_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = FastTags.tag
    answers: list[bool] = []

    def counted(self: FastTags, node: Node) -> Tag | None:
        tag = read(self, node)
        answers.append(tag is not None)
        return tag

    monkeypatch.setattr(FastTags, "tag", counted)
    assert outcome(SHAPES, fast=True).startswith("Project(")
    # all but the calculation and the alarm with a suppression (the slow path's to read)
    assert answers.count(False) == 2, answers
    assert_alike(SHAPES)


def test_the_examples_load_alike() -> None:
    for text in SOURCES.values():
        assert_alike(text)


def field_lines() -> list[int]:
    """The lines of SHAPES that hold one field of a tag (``key: value``): the first two of
    each key (and every address and type: what fits where depends on both)."""
    lines = SHAPES.splitlines()
    start = lines.index("tags:")
    seen: dict[str, int] = {}
    found = []
    for at, line in enumerate(lines):
        if at > start and ": " in line and line.startswith(("    ", "  - ")) and "{" not in line:
            key = line.partition(": ")[0].lstrip(" -")
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= 2 or key in ("address", "type"):
                found.append(at)
    return found


@pytest.mark.parametrize("at", field_lines())
def test_each_field_given_tricky_values_reads_alike(at: int) -> None:
    lines = SHAPES.splitlines()
    key = lines[at].partition(": ")[0]
    for value in TRICKY:
        changed = [*lines[:at], f"{key}: {value}", *lines[at + 1 :]]
        assert_alike("\n".join(changed) + "\n")


@pytest.mark.parametrize("at", field_lines())
def test_each_field_given_tricky_names_reads_alike(at: int) -> None:
    lines = SHAPES.splitlines()
    head, _, value = lines[at].partition(": ")
    indent, key = head[: len(head) - len(head.lstrip(" -"))], head.lstrip(" -")
    for name in (f"!!null {key}", f"!!str {key}", f"'{key}'", f"? {key}\n    ", "~", "1"):
        changed = [*lines[:at], f"{indent}{name}: {value}", *lines[at + 1 :]]
        assert_alike("\n".join(changed) + "\n")


@pytest.mark.parametrize("key", ["limits", "alarms", "scaling"])
def test_each_nested_field_given_tricky_values_reads_alike(key: str) -> None:
    lines = SHAPES.splitlines()
    for at, line in enumerate(lines):
        if line.startswith(f"    {key}: {{"):
            head, _, body = line.partition("{")
            fields = body.rstrip("}").split(", ")
            for index, field in enumerate(fields):
                name = field.partition(": ")[0]
                for value in NESTED_TRICKY:
                    if "\n" in value or ": " in value:
                        continue
                    changed = [*fields[:index], f"{name}: {value}", *fields[index + 1 :]]
                    text = [*lines[:at], head + "{" + ", ".join(changed) + "}", *lines[at + 1 :]]
                    assert_alike("\n".join(text) + "\n")


@st.composite
def mutated_shapes(draw: st.DrawFn) -> str:
    """SHAPES after one to three mutations of the kinds test_mutated_files makes."""
    lines = SHAPES.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.integers(0, 5))
        if kind == 0:
            del lines[at]
        elif kind == 1:
            lines.insert(at, lines[at])
        elif kind == 2:
            key, sep, _ = lines[at].partition(": ")
            value = draw(st.sampled_from(TRICKY) | st.text(max_size=12))
            lines[at] = f"{key}{sep or ': '}{value}"
        elif kind == 3:
            indent = len(lines[at]) - len(lines[at].lstrip(" "))
            snippet = draw(st.sampled_from(SNIPPETS))
            lines[at:at] = [" " * indent + part for part in snippet.split("\n")]
        elif kind == 4:
            col = draw(st.integers(0, len(lines[at])))
            chars = "".join(draw(st.lists(st.sampled_from(SYNTAX), min_size=1, max_size=3)))
            lines[at] = lines[at][:col] + chars + lines[at][col:]
        else:
            lines[at] = " " * draw(st.integers(0, 8)) + lines[at].lstrip(" ")
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_shapes())
def test_mutated_shapes_read_alike(text: str) -> None:
    assert_alike(text)


def test_a_value_without_a_backslash_or_nel_holds_no_control_character() -> None:
    """may_hold_controls: every character a text value may not hold is refused raw by
    compose(), except NEL; so only an escape (a backslash) or NEL brings one in."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if CONTROL.match(char) and char != "\x85":
            assert _NOT_PRINTABLE.match(char), f"U+{code:04X}"
    assert may_hold_controls('a: "\\0"') and may_hold_controls("a: b\x85c")
    assert not may_hold_controls("a: b\tc\r\n")
    assert compose('a: "x\\x01"', "f") is not None  # the escape does bring one in


def test_the_quick_look_for_unprintable_ascii_agrees_with_the_search() -> None:
    for code in range(128):
        quick = bytes([code]) in _PRINTABLE_ASCII
        assert quick == (_NOT_PRINTABLE.match(chr(code)) is None), f"U+{code:04X}"


def test_the_fast_path_is_on_outside_these_comparisons() -> None:
    assert loader.FAST_TAGS is True
