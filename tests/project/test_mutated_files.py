"""Mutated project files: ``hmi check`` answers every one with errors, never a traceback
or a hang (issue 15, item 6: 425 generated files gave 15 tracebacks and 4 hangs).

Hypothesis takes the example projects and mutates them the way a hand, an editor or a
fuzzer does (lines dropped, doubled, swapped, re-indented, cut short; values replaced by
hostile ones; characters of YAML's syntax and control characters dropped in), then runs
what ``hmi check`` runs: the loader, and the screen checks of a project that loads. The
only outcomes allowed are a project (its screens checked) or a ProjectError whose every
line is ``file:line: field: message``. Each case is bounded in time (a hang fails at
once). Derandomized: ``make test`` runs the same 300 cases every time.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hmi.commands.check import screen_specs
from hmi.project import ProjectError, parse_project
from hmi.project.screen_check import UiSyntaxError, check_screens, parse_ui
from tests.project.bounded import bounded

EXAMPLES = Path(__file__).parents[2] / "examples"
SOURCES = {
    path.name: path.read_text(encoding="utf-8")
    for path in sorted(EXAMPLES.glob("*.yaml"))
    if not path.name.startswith("launch")
}
UI_FILES = sorted((Path(__file__).parents[2] / "hmi" / "screens" / "ui").glob("*.ui"))

#: seconds one case may take (a case takes about 30 ms)
BOUND = 5.0
ERROR_LINE = re.compile(r"^.+:[1-9][0-9]*: [^\n]+: [^\n]+$")

#: values that broke, or nearly broke, a loader before
HOSTILE_VALUES = [
    "1e+06",
    "1E6",
    "-1.5e-3",
    ".inf",
    "-.inf",
    ".nan",
    "1e999",
    "9" * 400,
    "0b_",
    "+0b_",
    "0x",
    "1:60",
    "yes",
    "~",
    "null",
    "''",
    '""',
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "{a: {b: c}}",
    "!!python/name:os.system",
    "!!python/object/apply:os.system [echo]",
    "!!binary aGk=",
    "!!int abc",
    "!!bool maybe",
    "!!float x",
    "!!timestamp 2024-99-99",
    "!custom x",
    "2024-02-30",
    "<<",
    "=",
    "&a [*a]",
    "*nowhere",
    "&x 1",
    "[" * 200,
    "{" * 200,
    "[" * 70 + "]" * 70,
    '"\\0"',
    '"a\\x01b\\e"',
    '"\\u0000.ui"',
    "'",
    '"',
    "|",
    ">-",
    "- - -",
    "? x",
    "@",
    "`",
    "%TAG ! x",
    "hr:99999999999999999999",
    "co:-1",
    "hr:1.99",
    "hr:5.16",
    "a/b/c",
    "{name: x/y/z, device: plc1, address: 'hr:1', expression: '1 + 1'}",
    "{raw_min: 0, raw_max: 10, eng_min: 5, eng_max: 5}",
    "'{a/b/c} * 2'",
    "'(((((((((1)))))))))'",
    "/dev/zero",
    "../../../../dev/urandom",
    "/",
    "x" * 5000,
]
SNIPPETS = [
    "tags: &t [*t]",
    "<<: *nowhere",
    "? [a, b]\n: c",
    "--- \n...",
    "a: &a [x, x, x, x]\nb: [*a, *a, *a, *a]",
    "- !!python/name:os.system",
    "tags:\n  - {name: a/b/c, device: plc1, address: hr:1, expression: '1'}",
    "devices:\n  - name: plc1\n    timeout: .nan",
    "\t- tab",
    "\ufeffname: bom",
]
SYNTAX = [*"[]{}:-&*!|>'\"#%@`,?\t\n ", "\x00", "\x01", "\x1b", "\x7f", "\x85", "\ufffe"]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """``(name, text)``: an example project after one to four mutations."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    lines = SOURCES[name].splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            lines = [""]
        at = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.integers(0, 8))
        if kind == 0:
            del lines[at]
        elif kind == 1:
            lines.insert(at, lines[at])
        elif kind == 2:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == 3:  # a value replaced
            key, sep, _ = lines[at].partition(": ")
            value = draw(st.sampled_from(HOSTILE_VALUES) | st.text(max_size=20))
            lines[at] = f"{key}{sep or ': '}{value}"
        elif kind == 4:  # a snippet inserted, indented like its neighbour or not
            indent = len(lines[at]) - len(lines[at].lstrip(" "))
            indent = draw(st.sampled_from([0, indent, indent + 2]))
            snippet = draw(st.sampled_from(SNIPPETS))
            lines[at:at] = [" " * indent + part for part in snippet.split("\n")]
        elif kind == 5:  # characters of YAML's syntax, or control characters, dropped in
            line = lines[at]
            col = draw(st.integers(0, len(line)))
            chars = draw(st.lists(st.sampled_from(SYNTAX), min_size=1, max_size=4))
            lines[at] = line[:col] + "".join(chars) + line[col:]
        elif kind == 6:  # re-indented
            line = lines[at].lstrip(" ")
            lines[at] = " " * draw(st.integers(0, 12)) + line
        elif kind == 7:  # cut short
            lines = lines[: at + 1]
            lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
        else:  # any text at all
            lines.insert(at, draw(st.text(max_size=40)))
    return name, "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


def check_text(name: str, text: str) -> None:
    """What ``hmi check`` does with ``text``, bounded; fails on anything but errors."""
    started = time.monotonic()
    with bounded(BOUND):
        try:
            # parse_project reads no file: the path anchors the screens' files in examples/
            project = parse_project(text, EXAMPLES / f"mutant-of-{name}")
        except ProjectError as exc:
            lines = [str(e) for e in exc.errors]
            assert lines, "a ProjectError with no error"
            bad = [line for line in lines if not ERROR_LINE.match(line)]
            assert not bad, bad
            assert str(exc).splitlines()[1:] == lines
        else:
            report = check_screens(project, screen_specs(project))
            bad = [str(e) for e in report.errors if not ERROR_LINE.match(str(e))]
            assert not bad, bad
    assert time.monotonic() - started < BOUND


@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,  # bounded() is the bound: a hang fails, a slow machine does not
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_mutated_project_files_give_errors_never_a_traceback_or_a_hang(
    case: tuple[str, str],
) -> None:
    check_text(*case)


def test_the_unmutated_examples_pass() -> None:
    for name, text in SOURCES.items():
        check_text(name, text)


@st.composite
def mutated_ui(draw: st.DrawFn) -> str:
    """A built-in screen's XML with characters dropped in, removed or the text cut."""
    text = UI_FILES[draw(st.integers(0, len(UI_FILES) - 1))].read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.integers(0, 2))
        if kind == 0:
            text = (
                text[:at]
                + draw(st.sampled_from([*SYNTAX, "<", ">", "&", "&lol;", "]]>"]))
                + text[at:]
            )
        elif kind == 1:
            text = text[:at] + text[at + draw(st.integers(1, 200)) :]
        else:
            text = text[:at]
    return text


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(mutated_ui())
def test_mutated_screens_are_read_or_refused_with_a_line(text: str) -> None:
    with bounded(BOUND):
        try:
            parse_ui(text, Path("mutant.ui"))
        except UiSyntaxError as exc:
            assert exc.line >= 1 and str(exc).startswith("not valid XML: ")
