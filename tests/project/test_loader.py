"""The project loader: a good file loads; every bad file names file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hmi.core.address import Table
from hmi.core.tag import DataType
from hmi.project import ProjectError, load_project, parse_project

EXAMPLES = Path(__file__).parents[2] / "examples"

HEAD = """\
name: Test plant
devices:
  - name: plc1
    host: 127.0.0.1
    port: 5020
"""


def errors_of(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ProjectError) as info:
        load_project(path)
    return [str(e) for e in info.value.errors]


def one_error(text: str, tmp_path: Path) -> str:
    errors = errors_of(text, tmp_path)
    assert len(errors) == 1, errors
    return errors[0].replace(str(tmp_path / "bad.yaml"), "bad.yaml")


PROJECTS = sorted(p for p in EXAMPLES.glob("*.yaml") if not p.name.startswith("launch"))


@pytest.mark.parametrize("example", PROJECTS, ids=lambda p: p.name)
def test_examples_load(example):
    project = load_project(example)
    assert project.name
    assert project.tags


def test_a_good_file_gives_typed_tags_and_devices():
    project = load_project(EXAMPLES / "small-plant.yaml")
    level = project.tags["area1/t101/level"]
    assert level.data_type is DataType.FLOAT32
    assert level.unit == "m"
    assert level.source is not None and level.source.address.table is Table.INPUT_REGISTER
    assert level.alarms is not None and level.alarms.hihi == 4.6
    valve = project.tags["area1/fv101/command"]
    assert valve.scaling is not None and valve.scaling.to_eng(5000) == 50
    assert valve.may_write({"operator"}) and not valve.may_write({"viewer"})
    assert project.devices["plc1"].port == 5020
    assert project.tags_of_device("plc1")
    by_device = project.tags_by_device()  # one pass, the same as asking per device
    assert set(by_device) == set(project.devices)
    for name in project.devices:
        mine = [t for t in project.tags.values() if t.source and t.source.device == name]
        assert by_device[name] == mine == project.tags_of_device(name)
    assert project.tags_of_device("no-such-device") == []
    assert project.users["engineer"].roles == {"engineer", "operator"}


def test_missing_field(tmp_path):
    text = HEAD + "tags:\n  - type: float32\n    device: plc1\n    address: hr:0\n"
    assert one_error(text, tmp_path) == "bad.yaml:7: tags[0].name: missing required field"


def test_wrong_type(tmp_path):
    text = HEAD.replace("port: 5020", "port: five")
    assert one_error(text, tmp_path) == (
        "bad.yaml:5: devices[0].port: expected an integer, found str 'five'"
    )


def test_wrong_type_of_section(tmp_path):
    text = HEAD + "tags: {name: a/b/c}\n"
    assert one_error(text, tmp_path) == "bad.yaml:6: tags: expected a list, found a mapping"


def test_duplicate_tag_name(tmp_path):
    text = HEAD + textwrap.dedent("""\
        tags:
          - name: a/b/c
          - name: a/b/d
          - name: a/b/c
        """)
    assert one_error(text, tmp_path) == (
        "bad.yaml:9: tags[2].name: duplicate tag name 'a/b/c' (first defined on line 7)"
    )


def test_unknown_device(tmp_path):
    text = HEAD + "tags:\n  - name: a/b/c\n    device: plc9\n    address: hr:1\n"
    assert one_error(text, tmp_path) == (
        "bad.yaml:8: tags[0].device: unknown device 'plc9' (known: plc1)"
    )


def test_unknown_role(tmp_path):
    text = HEAD + "users:\n  - name: bob\n    roles: [operator, wizard]\n"
    error = one_error(text, tmp_path)
    assert error.startswith("bad.yaml:8: users[0].roles: unknown role 'wizard' (known: viewer,")


def test_unknown_write_role(tmp_path):
    text = HEAD + "tags:\n  - name: a/b/c\n    write_roles: [boss]\n"
    assert "bad.yaml:8: tags[0].write_roles: unknown role 'boss'" in one_error(text, tmp_path)


def test_malformed_address(tmp_path):
    text = HEAD + "tags:\n  - name: a/b/c\n    device: plc1\n    address: hr-1\n"
    error = one_error(text, tmp_path)
    assert error.startswith("bad.yaml:9: tags[0].address: malformed address 'hr-1'")
    assert "expected TABLE:OFFSET" in error
    text = text.replace("hr-1", "holding:1")
    assert one_error(text, tmp_path) == (
        "bad.yaml:9: tags[0].address: unknown table 'holding' in 'holding:1': "
        "expected hr, ir, co or di"
    )


def test_type_that_does_not_fit_the_address(tmp_path):
    text = HEAD + "tags:\n  - name: a/b/c\n    type: float32\n    device: plc1\n    address: co:1\n"
    assert "tags[0].address: type float32 does not fit co:1" in one_error(text, tmp_path)


def test_unknown_field_suggests_the_right_one(tmp_path):
    text = HEAD + "tags:\n  - name: a/b/c\n    device: plc1\n    adress: hr:1\n"
    errors = errors_of(text, tmp_path)
    assert any("tags[0].adress: unknown field (did you mean 'address'?)" in e for e in errors)


def test_yaml_syntax_error_names_the_line(tmp_path):
    text = HEAD + "tags:\n  - name: [unclosed\n"
    error = one_error(text, tmp_path)
    assert error.startswith("bad.yaml:8: (syntax):")


def test_bad_choice_and_bad_name(tmp_path):
    text = HEAD + "tags:\n  - name: level\n    type: real\n"
    errors = errors_of(text, tmp_path)
    assert any("tags[0].name: expected area/device/point, found 'level'" in e for e in errors)
    assert any("tags[0].type: expected one of bool, int16" in e for e in errors)


def test_every_error_is_reported_at_once(tmp_path):
    text = HEAD + textwrap.dedent("""\
        tags:
          - name: a/b/c
            device: nope
            address: hr:1
          - name: a/b/d
            device: plc1
            address: zz:1
        users:
          - name: x
            roles: [wizard]
        """)
    errors = errors_of(text, tmp_path)
    assert len(errors) == 3
    assert [e.split(": ")[0].rsplit(":", 1)[1] for e in errors] == ["8", "12", "15"]


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(ProjectError, match=r"nope.yaml:1: \(file\): cannot read"):
        load_project(tmp_path / "nope.yaml")
    with pytest.raises(ProjectError, match="expected a mapping, found nothing"):
        parse_project("", tmp_path / "empty.yaml")


def test_device_checks(tmp_path):
    text = HEAD + "  - name: plc1\n  - name: rtu\n    protocol: modbus-rtu\n"
    errors = errors_of(text, tmp_path)
    assert any("devices[1].name: duplicate device name 'plc1'" in e for e in errors)
    assert any("devices[2].serial_port: modbus-rtu needs a serial_port" in e for e in errors)


def test_alarm_limits_out_of_order(tmp_path):
    text = HEAD + "tags:\n  - name: a/b/c\n    alarms: {hi: 1, lo: 5}\n"
    assert "tags[0].alarms: alarm limits must satisfy" in one_error(text, tmp_path)


def test_screen_file_must_exist(tmp_path):
    (tmp_path / "main.ui").write_text("<ui/>")
    text = HEAD + "screens:\n  - name: main\n    file: main.ui\n  - name: x\n    file: gone.ui\n"
    assert "screens[1].file: no such file" in one_error(text, tmp_path)


def test_plain_password_is_refused(tmp_path):
    text = HEAD + "users:\n  - name: bob\n    roles: [operator]\n    password_hash: hunter2\n"
    assert "bad.yaml:9: users[0].password_hash: expected a hash made by `hmi passwd`" in (
        one_error(text, tmp_path)
    )


def test_alarm_suppression_and_bad_quality_policy(tmp_path):
    text = HEAD + textwrap.dedent(
        """\
        tags:
          - name: a/p/running
            type: bool
          - name: a/p/flow
            alarms: {lo: 5, suppress_when: "not {a/p/running}", bad_quality: alarm}
        """
    )
    path = tmp_path / "good.yaml"
    path.write_text(text)
    alarms = load_project(path).tags["a/p/flow"].alarms
    assert alarms is not None
    assert alarms.suppress_when == "not {a/p/running}"
    assert alarms.bad_quality == "alarm"


def test_alarm_suppression_errors_name_line_and_field(tmp_path):
    bad_syntax = HEAD + "tags:\n  - name: a/b/c\n    alarms: {hi: 1, suppress_when: '{a/b/c} +'}\n"
    assert "bad.yaml:8: tags[0].alarms.suppress_when:" in one_error(bad_syntax, tmp_path)
    unknown = HEAD + "tags:\n  - name: a/b/c\n    alarms: {hi: 1, suppress_when: 'not {a/x/y}'}\n"
    assert "bad.yaml:8: tags[0].alarms.suppress_when: unknown tag 'a/x/y'" in one_error(
        unknown, tmp_path
    )
    policy = HEAD + "tags:\n  - name: a/b/c\n    alarms: {hi: 1, bad_quality: clear}\n"
    assert "tags[0].alarms.bad_quality: expected one of hold, alarm" in one_error(policy, tmp_path)


def test_settle_times_of_tags_and_devices(tmp_path):
    """How long a write is watched after its read-back: a tag's, else its device's."""
    path = tmp_path / "p.yaml"
    path.write_text(
        HEAD
        + "    settle: 1.5\n"
        + textwrap.dedent(
            """\
            tags:
              - {name: a/b/pulse, type: bool, device: plc1, address: "co:1", settle: 0,
                 write_roles: [operator]}
              - {name: a/b/sp, type: float32, device: plc1, address: "hr:0",
                 write_roles: [operator]}
            """
        )
    )
    project = load_project(path)
    assert project.devices["plc1"].settle == 1.5
    assert project.tags["a/b/pulse"].source.settle == 0.0
    assert project.tags["a/b/sp"].source.settle is None  # the device's applies
    demo = load_project(EXAMPLES / "demo-plant.yaml")
    assert demo.tags["area1/p101/reset"].source.settle == 0.0  # a pulse the PLC clears


def test_settle_time_errors_name_line_and_field(tmp_path):
    too_long = one_error(
        HEAD
        + """\
tags:
  - {name: a/b/sp, device: plc1, address: "hr:0", settle: 30}
""",
        tmp_path,
    )
    assert too_long.startswith("bad.yaml:7: tags[0].settle: must be 0 .. 5 seconds")
    memory = one_error(HEAD + "tags:\n  - {name: a/b/m, settle: 1}\n", tmp_path)
    assert memory == "bad.yaml:7: tags[0].settle: only a device tag is written and read back"
    device = one_error(HEAD + "    settle: -1\n", tmp_path)
    assert device.startswith("bad.yaml:6: devices[0].settle: must be 0 .. 5 seconds")


def test_an_alarm_delay_error_names_its_field_and_nothing_else(tmp_path):
    """A negative on_delay was reported at `alarms` without naming the field, and every
    calculation using the tag then had an "unknown tag" error of its own."""
    text = HEAD + (
        "tags:\n"
        "  - {name: a/t/level, type: float32, device: plc1, address: hr:0,\n"
        "     alarms: {hi: 4.0, on_delay: -1}}\n"
        "  - {name: a/t/double, type: float64, expression: '2 * {a/t/level}'}\n"
    )
    assert one_error(text, tmp_path) == (
        "bad.yaml:8: tags[0].alarms.on_delay: expected 0 or more, found -1"
    )


def test_every_error_of_the_system_alarms_section_at_once(tmp_path):
    text = HEAD + "system_alarms: {device_priorty: 2, node_priority: 7, on_delay: -3}\n"
    errors = [e.replace(str(tmp_path / "bad.yaml"), "bad.yaml") for e in errors_of(text, tmp_path)]
    assert sorted(errors) == sorted(
        [
            "bad.yaml:6: system_alarms.on_delay: expected 0 or more seconds, found -3",
            "bad.yaml:6: system_alarms.node_priority: expected an integer in 1..4, found 7",
            "bad.yaml:6: system_alarms.device_priorty: unknown field (did you mean "
            "'device_priority'?)",
        ]
    )
