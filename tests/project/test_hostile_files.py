"""``hmi check`` on hostile files: a file:line error each, never a traceback or a hang
(issue 15, item 6).

Each case here was a traceback or a hang before: RecursionError for deep nesting,
ReaderError for NUL and control characters, a ValueError for a tag with a device and an
expression, ConstructorError for ``!!python/name:`` in a list, a FIFO and /dev/urandom
read forever, /dev/zero read until 2.9 GB; and ``1e+06`` was text.
"""

from __future__ import annotations

import argparse
import os
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.commands import check
from hmi.project import ProjectError, load_project, parse_project
from hmi.project.errors import ConfigError
from hmi.project.screen_check import ScreenSpec, check_screens
from hmi.project.source import MAX_FILE_BYTES
from tests.project.bounded import bounded

HEAD = """\
name: Test plant
builtin_screens: false
devices:
  - name: plc1
    port: 5020
"""

#: what every reported problem looks like
ERROR_LINE = re.compile(r"^.+:[1-9][0-9]*: [^\n]+: [^\n]+$")


def errors_of(text: str) -> list[str]:
    with pytest.raises(ProjectError) as info:
        parse_project(textwrap.dedent(text), "bad.yaml")
    lines = [str(e) for e in info.value.errors]
    assert all(ERROR_LINE.match(line) for line in lines), lines
    return lines


def file_errors(path: Path) -> list[str]:
    with bounded(5.0), pytest.raises(ProjectError) as info:
        load_project(path)
    lines = [str(e).replace(str(path), "F") for e in info.value.errors]
    assert all(ERROR_LINE.match(line) for line in lines), lines
    return lines


# -- YAML that PyYAML reads differently, or not at all -----------------------------------------
def test_numbers_with_an_exponent_are_numbers() -> None:
    """YAML 1.1 (PyYAML) reads 1e+06 and 1E6 as text: ``raw_max: 1e+06`` was refused."""
    project = parse_project(
        HEAD
        + textwrap.dedent("""\
        tags:
          - name: a/b/c
            type: uint32
            device: plc1
            address: hr:1
            scaling: {raw_min: 0, raw_max: 1e+06, eng_min: 1.5e-3, eng_max: 1E6}
            limits: {low: -2e2, high: 1_000e3}
            deadband: .5e1
        """)
    )
    tag = project.tags["a/b/c"]
    assert tag.scaling is not None
    assert (tag.scaling.raw_max, tag.scaling.eng_min, tag.scaling.eng_max) == (1e6, 1.5e-3, 1e6)
    assert (tag.limits.low, tag.limits.high) == (-200.0, 1e6)
    assert tag.source is not None and tag.source.deadband == 5.0


def test_text_that_only_looks_like_a_number_stays_text() -> None:
    project = parse_project(HEAD + "description: 1.2.3e4\nstart_screen: ''\n")
    assert project.description == "1.2.3e4"
    # dates, merge keys and value keys are text too (not constructed)
    project = parse_project(HEAD.replace("Test plant", "2024-02-30"))
    assert project.name == "2024-02-30"


def test_non_finite_numbers_are_refused() -> None:
    text = HEAD + "poll_groups: {fast: .nan, slow: .inf, huge: 1e999, big: " + "9" * 400 + "}\n"
    assert errors_of(text) == [
        f"bad.yaml:6: poll_groups.big: expected a finite number, found {'9' * 400}",
        "bad.yaml:6: poll_groups.fast: expected a finite number, found .nan",
        "bad.yaml:6: poll_groups.huge: expected a finite number, found 1e999",
        "bad.yaml:6: poll_groups.slow: expected a finite number, found .inf",
    ]


def test_nul_and_control_characters_are_errors_with_their_line() -> None:
    text = HEAD + "description: caf\x00e\nroles: [viewer, \x1b[31mred]\n"
    assert errors_of(text) == [
        "bad.yaml:6: (text): control character U+0000 (NUL) at column 17 is not allowed",
        "bad.yaml:7: (text): control character U+001B (ESC) at column 17 is not allowed",
    ]
    # from an escape inside double quotes: the reader lets it through, the field does not
    text = HEAD + 'screens:\n  - {name: s, file: "a\\0b.ui"}\n'
    assert errors_of(text) == [
        "bad.yaml:7: screens[0].file: control character U+0000 (NUL) in text is not allowed"
    ]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("- !!python/name:os.system", "tag !!python/name:os.system is not allowed"),
        ("- !!python/object/apply:os.system [ls]", "tag !!python/object/apply:os.system"),
        ("- {name: !!binary aGk=}", "tag !!binary is not allowed"),
        ("- {name: !custom a/b/c}", "tag !custom is not allowed"),
        ("- {name: a/b/c, length: !!int abc}", "'abc' is not an integer (tagged !!int)"),
        ("- {name: a/b/c, enabled: !!bool maybe}", "'maybe' is not true or false (tagged !!bool)"),
        ("- {name: a/b/c, deadband: !!float x}", "'x' is not a number (tagged !!float)"),
    ],
)
def test_tags_other_than_plain_yaml_are_refused(snippet: str, message: str) -> None:
    [error] = errors_of(HEAD + "tags:\n  " + snippet + "\n")
    assert error.startswith("bad.yaml:7: (syntax): ") and message in error, error


def test_a_plain_value_typed_by_its_look_but_unreadable_is_an_error() -> None:
    # no "!" in the file: every tag is the resolver's, which typed "0x_" as an integer
    # (YAML 1.1's hexadecimal) though it reads as none; the same value twice, one error each
    text = HEAD + "tags:\n  - {name: a/b/c, length: 0x_}\n  - {name: a/b/d, length: 0x_}\n"
    assert errors_of(text) == [
        "bad.yaml:7: (syntax): '0x_' is not an integer (tagged !!int)",
        "bad.yaml:8: (syntax): '0x_' is not an integer (tagged !!int)",
    ]


def test_merge_and_value_keys_are_unknown_fields_not_a_crash() -> None:
    errors = errors_of(HEAD + "tags:\n  - {name: a/b/c, <<: {unit: m}, =: 1}\n")
    assert "bad.yaml:7: tags[0].<<: unknown field" in errors
    assert "bad.yaml:7: tags[0].=: unknown field" in errors


def test_deep_nesting_is_an_error_not_a_recursion_error() -> None:
    for deep in ("[" * 100_000 + "]" * 100_000, "{a: " * 5000 + "1" + "}" * 5000):
        assert errors_of(HEAD + "tags: " + deep + "\n") == [
            "bad.yaml:6: (syntax): nested deeper than 64 levels"
        ]


def test_aliases_that_loop_or_explode_are_errors() -> None:
    assert errors_of(HEAD + "tags: &t [*t]\n") == [
        "bad.yaml:6: (syntax): an alias is inside its own anchor (a loop)"
    ]
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in "bcdefg":
        previous = chr(ord(level) - 1)
        bomb.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]")
    [error] = errors_of("\n".join(bomb) + "\n")
    assert error.endswith("more than 1,000,000 values (aliases counted each time they are used)")


def test_a_tag_with_a_device_and_an_expression_is_an_error() -> None:
    """Tag() raised ValueError for the pair: a traceback from hmi check."""
    text = HEAD + "tags:\n  - {name: a/b/c, device: plc1, address: hr:1, expression: '1 + 1'}\n"
    assert errors_of(text) == [
        "bad.yaml:7: tags[0].expression: a tag has either a device or an expression, not both"
    ]


def test_a_scaling_without_an_engineering_span_is_an_error() -> None:
    """A write to it divided by zero."""
    text = HEAD + (
        "tags:\n  - {name: a/b/c, device: plc1, address: hr:1,\n"
        "     scaling: {raw_min: 0, raw_max: 10, eng_min: 5, eng_max: 5}}\n"
    )
    assert errors_of(text) == ["bad.yaml:8: tags[0].scaling: eng_min and eng_max must differ"]


def test_settings_the_driver_could_not_start_with_are_errors() -> None:
    """Values that passed `hmi check` and failed later, when the driver started."""
    text = "name: x\nbuiltin_screens: false\ndevices:\n" + (
        "  - {name: rtu1, protocol: modbus-rtu, serial_port: 'tcp://gw:99999'}\n"
        "  - {name: plc1}\n"
        "tags:\n  - {name: a/b/c, type: float64, device: plc1, address: 'hr:65535'}\n"
    )
    assert errors_of(text) == [
        "bad.yaml:4: devices[0].serial_port: expected tcp://HOST:PORT (a port 1..65535), "
        "found 'tcp://gw:99999'",
        "bad.yaml:7: tags[0].address: float64 at hr:65535 runs past register 65535",
    ]


# -- files that are not files ------------------------------------------------------------------
@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "project.yaml"
    os.mkfifo(path)
    yield path


def test_a_fifo_is_refused_without_blocking(fifo: Path) -> None:
    assert file_errors(fifo) == [
        "F:1: (file): cannot read: a named pipe (FIFO), not a regular file"
    ]


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_before_a_byte_is_read(device: str, tmp_path: Path) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    link = tmp_path / "project.yaml"
    link.symlink_to(device)
    for path in (Path(device), link):
        [error] = file_errors(path)
        assert error == "F:1: (file): cannot read: a character device, not a regular file"


def test_a_directory_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    assert file_errors(tmp_path) == ["F:1: (file): cannot read: a directory, not a regular file"]
    [error] = file_errors(tmp_path / "missing.yaml")
    assert error == "F:1: (file): cannot read: No such file or directory"


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk space used
    [error] = file_errors(path)
    assert error == (
        f"F:1: (file): too big to be a project's file: {MAX_FILE_BYTES + 1:,} bytes "
        f"(at most {MAX_FILE_BYTES:,} bytes)"
    )


def test_text_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(HEAD.encode() + b"description: caf\xe9\n")
    assert file_errors(path) == ["F:6: (file): not UTF-8 text: byte 0xe9 at column 17"]


def test_hmi_check_answers_for_a_fifo(fifo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with bounded(5.0):
        code = check.run(argparse.Namespace(project=fifo))
    assert code == 1
    assert "a named pipe (FIFO), not a regular file" in capsys.readouterr().err


def test_hmi_check_answers_in_one_line_even_for_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(path: Path) -> None:
        raise RecursionError("maximum recursion depth exceeded\nwhile reading")

    monkeypatch.setattr("hmi.project.load_project", broken)
    code = check.run(argparse.Namespace(project=tmp_path / "p.yaml"))
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        f"{tmp_path / 'p.yaml'}:1: (check): could not be checked: RecursionError: maximum "
        "recursion depth exceeded while reading (a bug in hmi check: please report it with "
        "the file)\n"
    )


# -- screens: the same care --------------------------------------------------------------------
def screen_errors(tmp_path: Path, ui: Path) -> list[ConfigError]:
    project = parse_project(HEAD, tmp_path / "p.yaml")
    with bounded(5.0):
        report = check_screens(project, [ScreenSpec("s", ui)])
    assert report.errors, "a bad screen must be an error"
    return report.errors


def test_a_screen_that_is_a_fifo_or_a_device_is_refused(fifo: Path, tmp_path: Path) -> None:
    [error] = screen_errors(tmp_path, fifo)
    assert (error.line, error.field) == (1, "(file)")
    assert error.message == "cannot read: a named pipe (FIFO), not a regular file"
    link = tmp_path / "zero.ui"
    link.symlink_to("/dev/zero")
    [error] = screen_errors(tmp_path, link)
    assert error.message == "cannot read: a character device, not a regular file"


def test_a_project_screen_that_is_a_fifo_is_an_error_of_the_project(fifo: Path) -> None:
    text = HEAD + f"screens:\n  - {{name: s, file: {fifo.name}}}\n"
    with bounded(5.0):
        errors = errors_of_file(fifo.parent / "p.yaml", text)
    assert errors == [f"F:7: screens[0].file: not a regular file: {fifo}"]


def errors_of_file(path: Path, text: str) -> list[str]:
    path.write_text(text)
    return file_errors(path)


def test_a_huge_screen_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.ui"
    with path.open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)
    [error] = screen_errors(tmp_path, path)
    assert error.message.startswith("too big")


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(8))
    + "]>\n<ui><widget class='QLabel'><property name='tag'><string>&i;</string>"
    "</property></widget></ui>"
)


@pytest.mark.parametrize(
    ("xml", "line", "message"),
    [
        ("<ui>\n<widget class='QLabel'>\n</ui>\n", 3, "not valid XML: mismatched tag"),
        ("<ui>\n\x00</ui>", 2, "not valid XML: not well-formed (invalid token)"),
        (
            BILLION_LAUGHS,
            3,
            "not valid XML: limit on input amplification factor (from DTD and entities) breached",
        ),
    ],
    ids=["unclosed", "nul", "billion-laughs"],
)
def test_a_malformed_screen_is_an_error_with_its_line(
    tmp_path: Path, xml: str, line: int, message: str
) -> None:
    path = tmp_path / "bad.ui"
    path.write_text(xml)
    [error] = screen_errors(tmp_path, path)
    assert (error.line, error.field, error.message) == (line, "(file)", message)
