"""Screens checked before they run: unknown tags, read-only write targets, macros, with
file:line of the widget; the built-in screens kept beside a project's own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hmi.project import ProjectError, load_project
from hmi.project.model import BUILTIN_SCREENS
from hmi.project.screen_check import (
    STOCK_KINDS,
    WIDGET_KINDS,
    ScreenSpec,
    UiSyntaxError,
    check_screens,
    parse_ui,
)

EXAMPLES = Path(__file__).parents[2] / "examples"

PROJECT = """\
name: Lint plant
devices:
  - {name: plc1, protocol: modbus-tcp, host: 127.0.0.1, port: 5020}
tags:
  - {name: area1/t101/level, type: float32, unit: m, device: plc1, address: "ir:0"}
  - {name: area1/p101/running, type: bool, device: plc1, address: "di:0"}
  - {name: area1/p101/tripped, type: bool, device: plc1, address: "di:1"}
  - {name: area1/p101/start, type: bool, device: plc1, address: "co:0",
     write_roles: [operator]}
  - {name: area1/p101/mode, type: bool, device: plc1, address: "co:5"}
  - {name: area1/t101/volume, type: float64, unit: m³, expression: "{area1/t101/level} * 2"}
builtin_screens: false
screens:
{screens}
"""


def _ui(*widgets: str) -> str:
    body = "\n".join(widgets)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ui version="4.0">\n <class>s</class>\n'
        ' <widget class="QWidget" name="s">\n'
        f"{body}\n"
        " </widget>\n</ui>\n"
    )


def _w(cls: str, name: str, **props: str) -> str:
    lines = [f'  <widget class="{cls}" name="{name}">']
    for key, value in props.items():
        stdset = ' stdset="0"' if cls.startswith("Q") and key == "tag" else ""
        lines.append(f'   <property name="{key}"{stdset}><string>{value}</string></property>')
    lines.append("  </widget>")
    return "\n".join(lines)


def _project(tmp_path: Path, files: dict[str, str], screens: str):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "plant.yaml"
    path.write_text(PROJECT.replace("{screens}", textwrap.indent(screens, "  ")))
    return load_project(path)


def _specs(project) -> list[ScreenSpec]:
    return [ScreenSpec(s.name, s.file, dict(s.macros)) for s in project.screens.values()]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_an_unknown_tag_is_named_with_file_line_and_widget(tmp_path):
    text = _ui(
        _w("ValueLabel", "level_1", tag="area1/t101/level"),
        _w("Tank", "tank_2", tag="area1/nope/level"),
    )
    project = _project(tmp_path, {"a.ui": text}, "- {name: a, file: a.ui}")
    report = check_screens(project, _specs(project))
    assert [str(e) for e in report.errors] == [
        f"{tmp_path / 'a.ui'}:{_line_of(text, 'tank_2')}: tank_2.tag: unknown tag "
        "'area1/nope/level' (did you mean 'area1/t101/level'?)"
    ]


def test_write_widgets_need_a_tag_someone_may_write(tmp_path):
    text = _ui(
        _w("CommandButton", "ok_1", tag="area1/p101/start"),
        _w("CommandButton", "readonly_2", tag="area1/t101/level"),
        _w("SetpointEntry", "noroles_3", tag="area1/p101/mode"),
        _w("SetpointEntry", "computed_4", tag="area1/t101/volume"),
        _w("QPushButton", "stock_5", tag="area1/p101/running"),
        _w("QLabel", "shows_6", tag="area1/p101/running"),
    )
    project = _project(tmp_path, {"a.ui": text}, "- {name: a, file: a.ui}")
    messages = {e.field: e.message for e in check_screens(project, _specs(project)).errors}
    assert messages == {
        "readonly_2.tag": "'area1/t101/level' is read-only: ir:0 cannot be written",
        "noroles_3.tag": "'area1/p101/mode' has no write_roles: nobody may write it",
        "computed_4.tag": "'area1/t101/volume' is computed (expression): a write widget "
        "cannot set it",
        "stock_5.tag": "'area1/p101/running' is read-only: di:0 cannot be written",
    }


def test_faceplate_macros_are_checked_where_they_are_given(tmp_path):
    faceplate = _ui(
        _w("Pump", "pump_1", tag="${DEV}/running", faultTag="${DEV}/tripped"),
        _w("CommandButton", "start_2", tag="${DEV}/start"),
    )
    screen = _ui(
        _w("Pump", "good_1", tag="area1/p101/running", faceplate="motor", macros="DEV=area1/p101"),
        _w("Pump", "typo_2", tag="area1/p101/running", faceplate="motor", macros="DEVICE=x"),
        _w("Pump", "wrong_3", tag="area1/p101/running", faceplate="motor", macros="DEV=area1/p102"),
        _w("NavigationButton", "lost_4", target="motr"),
    )
    screens = "- {name: main, file: main.ui}\n- {name: motor, file: motor.ui}"
    project = _project(tmp_path, {"main.ui": screen, "motor.ui": faceplate}, screens)
    errors = check_screens(project, _specs(project)).errors
    got = [(Path(e.file).name, e.line, e.field, e.message) for e in errors]
    typo = _line_of(screen, "typo_2")
    typo_errors = [g[3] for g in got if g[:3] == ("main.ui", typo, "typo_2.macros")]
    assert typo_errors == [
        "unknown macro(s) DEVICE for screen 'motor' (it uses DEV)",
        "screen 'motor' needs macro(s) DEV: give them here, e.g. DEV=...",
    ]
    assert not [g for g in got if g[2].startswith("good_1")]
    lost = ("main.ui", _line_of(screen, "lost_4"), "lost_4.target")
    assert (*lost, "unknown screen 'motr' (did you mean 'motor'?)") in got
    # The faceplate's tags, checked with the macros of the pump that opens it.
    line = _line_of(screen, "wrong_3")
    assert (
        "motor.ui",
        _line_of(faceplate, "pump_1"),
        "pump_1.tag",
        "unknown tag 'area1/p102/running' (did you mean 'area1/p101/running'?) "
        f"(opened from main.ui:{line} with DEV=area1/p102)",
    ) in got
    # Only the bad pump's macros fail there; the good pump's pass.
    assert sorted(g[2] for g in got if g[0] == "motor.ui") == [
        "pump_1.faultTag",
        "pump_1.tag",
        "start_2.tag",
    ]


def test_a_screen_with_undefined_macros_is_a_faceplate_and_a_missing_one_is_named(tmp_path):
    area = _ui(_w("ValueLabel", "level_1", tag="area1/${TANK}/level"))
    opener = _ui(_w("NavigationButton", "go_1", target="area", macros="X=1"))
    screens = (
        "- {name: area, file: area.ui}\n"  # TANK not given: a faceplate
        "- {name: area1, file: area.ui, macros: {TANK: t101}}\n"  # a screen like any other
        "- {name: start, file: start.ui}"
    )
    project = _project(tmp_path, {"area.ui": area, "start.ui": opener}, screens)
    errors = check_screens(project, _specs(project)).errors
    messages = [(e.field, e.message) for e in errors]
    assert ("go_1.macros", "unknown macro(s) X for screen 'area' (it uses TANK)") in messages
    assert (
        "go_1.macros",
        "screen 'area' needs macro(s) TANK: give them here, e.g. TANK=...",
    ) in messages


def test_a_stock_widget_that_cannot_show_a_tag_is_reported(tmp_path):
    text = _ui(_w("QLineEdit", "edit_1", tag="area1/t101/level"))
    project = _project(tmp_path, {"a.ui": text}, "- {name: a, file: a.ui}")
    (error,) = check_screens(project, _specs(project)).errors
    assert error.field == "edit_1.tag" and "a QLineEdit cannot show a tag" in error.message


def test_a_broken_file_names_its_line(tmp_path):
    text = _ui(_w("ValueLabel", "a", tag="area1/t101/level")).replace("</ui>", "<oops></ui>")
    project = _project(tmp_path, {"a.ui": text}, "- {name: a, file: a.ui}")
    (error,) = check_screens(project, _specs(project)).errors
    assert (
        error.field == "(file)" and error.line == text.count("\n") and "not valid XML" in str(error)
    )
    with pytest.raises(UiSyntaxError):
        parse_ui("<ui><widget></ui>", Path("x.ui"))


def test_layout_properties_are_not_widget_properties():
    ui = parse_ui(
        '<ui><widget class="QWidget" name="w"><layout class="QVBoxLayout" name="l">'
        '<property name="tag"><string>not/a/binding</string></property>'
        '<item><widget class="ValueLabel" name="v"><property name="tag">'
        "<string>area1/t101/level</string></property></widget></item></layout></widget></ui>",
        Path("x.ui"),
    )
    assert [(w.name, w.properties) for w in ui.widgets] == [
        ("w", {}),
        ("v", {"tag": "area1/t101/level"}),
    ]


def test_the_demo_plant_and_its_built_in_screens_are_clean():
    from hmi.commands.check import screen_specs

    project = load_project(EXAMPLES / "demo-plant.yaml")
    report = check_screens(project, screen_specs(project))
    assert report.errors == [] and report.notes == []
    assert report.screens == len(BUILTIN_SCREENS)


def test_built_in_screens_a_project_cannot_use_are_a_note_not_an_error():
    from hmi.commands.check import screen_specs

    project = load_project(EXAMPLES / "small-plant.yaml")
    report = check_screens(project, screen_specs(project))
    assert report.errors == []
    (note,) = report.notes
    assert "built-in screens" in note and "builtin_screens: false" in note


def test_every_widget_class_is_known_to_the_checker():
    import hmi.widgets
    from hmi.qt.stock import bind_stock_widget  # noqa: F401  (the stock kinds' source)

    assert set(hmi.widgets.__all__) == set(WIDGET_KINDS)
    for name, kind in WIDGET_KINDS.items():
        cls = getattr(hmi.widgets, name)
        meta = cls.staticMetaObject
        for prop in (*kind.reads, *kind.writes, *kind.lists):
            assert meta.indexOfProperty(prop) >= 0, f"{name} has no property {prop}"
    assert {"QLabel", "QPushButton", "QCheckBox"} <= set(STOCK_KINDS)


def test_builtin_screens_flag_and_start_screen(tmp_path):
    ui = _ui(_w("ValueLabel", "v", tag="area1/t101/level"))
    project = _project(tmp_path, {"a.ui": ui}, "- {name: a, file: a.ui}")
    assert project.builtin_screens is False and project.start_screen == "a"
    path = tmp_path / "plant.yaml"
    kept = path.read_text().replace("builtin_screens: false", "start_screen: overview")
    path.write_text(kept)
    project = load_project(path)
    assert project.builtin_screens is True and project.start_screen == "overview"
    path.write_text(kept.replace("start_screen: overview", "builtin_screens: nope"))
    with pytest.raises(ProjectError, match="builtin_screens: expected true or false"):
        load_project(path)
    path.write_text(kept.replace("start_screen: overview", "start_screen: nowhere"))
    with pytest.raises(ProjectError, match="start_screen: unknown screen 'nowhere'"):
        load_project(path)


def test_the_checker_reads_macros_and_substitutes_like_the_application():
    from hmi.project.screen_check import parse_macros as checker_macros
    from hmi.project.screen_check import substitute
    from hmi.qt.loader import macros_in, substitute_macros
    from hmi.widgets.equipment import parse_macros as widget_macros

    text = " DEV=area1/p101, NAME=P-101;FLOW = area1/ft102/flow,, junk"
    assert (
        checker_macros(text)
        == widget_macros(text)
        == {
            "DEV": "area1/p101",
            "NAME": "P-101",
            "FLOW": "area1/ft102/flow",
        }
    )
    ui = parse_ui("<ui><widget class='QWidget' name='w'>${A}${B_2}$ {C}</widget></ui>", Path("x"))
    assert ui.macros == macros_in("${A}${B_2}$ {C}") == {"A", "B_2"}
    assert substitute("${A}/x", {"A": "a1"}) == substitute_macros("${A}/x", {"A": "a1"})


def test_macros_pass_from_faceplate_to_faceplate(tmp_path):
    main = _ui(
        _w("Pump", "p_1", tag="area1/p101/running", faceplate="motor", macros="DEV=area1/p101")
    )
    motor = _ui(
        _w("Pump", "p_1", tag="${DEV}/running"),
        _w("NavigationButton", "more_2", target="details", macros="DEV=${DEV}", popup="true"),
    )
    details = _ui(_w("ValueLabel", "v_1", tag="${DEV}/xyzzy"))
    screens = (
        "- {name: details, file: details.ui}\n"  # listed first: found only through the chain
        "- {name: main, file: main.ui}\n"
        "- {name: motor, file: motor.ui}"
    )
    files = {"main.ui": main, "motor.ui": motor, "details.ui": details}
    project = _project(tmp_path, files, screens)
    errors = check_screens(project, _specs(project)).errors
    assert [(Path(e.file).name, e.field, e.message) for e in errors] == [
        (
            "details.ui",
            "v_1.tag",
            f"unknown tag 'area1/p101/xyzzy' (opened from motor.ui:{_line_of(motor, 'more_2')} "
            "with DEV=area1/p101)",
        )
    ]


def test_a_misspelt_macro_that_leaves_a_screen_unreachable_is_an_error(tmp_path):
    # ${TNAK} is not given by the entry: the screen became a faceplate that nothing opens,
    # so it lost its navigation button; said at the line that uses the macro.
    tank = _ui(
        _w("ValueLabel", "level_1", tag="area1/${TANK}/level"),
        _w("ValueLabel", "flow_2", tag="area1/${TNAK}/flow"),
    )
    main = _ui(_w("ValueLabel", "v_1", tag="area1/t101/level"))
    screens = "- {name: main, file: main.ui}\n- {name: tank, file: tank.ui, macros: {TANK: t101}}"
    project = _project(tmp_path, {"tank.ui": tank, "main.ui": main}, screens)
    errors = check_screens(project, _specs(project)).errors
    assert [(Path(e.file).name, e.line, e.field) for e in errors] == [
        ("tank.ui", _line_of(tank, "flow_2"), "tank")
    ]
    assert errors[0].message.startswith(
        "screen 'tank' uses macro(s) TNAK that its entry does not give, and no "
        "NavigationButton or equipment opens it: it has no navigation button"
    )


def test_a_faceplate_named_as_start_screen_is_a_note_naming_the_screen_shown_instead(
    tmp_path,
):
    motor = _ui(_w("Pump", "p_1", tag="${DEV}/running"))
    main = _ui(
        _w("Pump", "p_1", tag="area1/p101/running", faceplate="motor", macros="DEV=area1/p101")
    )
    screens = "- {name: motor, file: motor.ui}\n- {name: main, file: main.ui}"
    project = _project(tmp_path, {"motor.ui": motor, "main.ui": main}, screens)
    assert project.start_screen == "motor"  # the first listed, by default
    report = check_screens(project, _specs(project))
    assert report.errors == []
    assert report.notes == [
        "screen 'motor' cannot be shown first: it is a faceplate (its entry does not give "
        "DEV); the application opens on 'main' instead. Name a screen of the navigation "
        "bar in `start_screen:`, or list that one first"
    ]


def test_the_property_table_is_in_step_with_the_widgets():
    """hmi.project.widget_properties is what the widgets' metaobjects say (hmi check reads
    the table, without Qt); a widget given or stripped of a property fails here."""
    from PySide6.QtWidgets import QWidget

    import hmi.widgets
    from hmi.project.widget_properties import OWN, QWIDGET

    def names(cls) -> set[str]:
        meta = cls.staticMetaObject
        return {meta.property(i).name() for i in range(meta.propertyCount())}

    assert names(QWidget) == QWIDGET
    assert set(OWN) == set(WIDGET_KINDS)
    for name in WIDGET_KINDS:
        actual = names(getattr(hmi.widgets, name)) - QWIDGET
        assert actual == OWN[name], (name, sorted(actual ^ OWN[name]))


def test_a_property_our_widget_does_not_have_is_reported(tmp_path):
    """Qt ignores a property a class does not declare: a hand-edited ``chrs`` for
    ``chars`` left the label at another width, and nothing said why."""
    text = _ui(
        _w("ValueLabel", "level_1", tag="area1/t101/level", chrs="8"),
        _w("Tank", "tank_1", tag="area1/t101/level", fillColour="red"),
        # a dynamic property (Designer's "+", stdset="0") is the engineer's own: not ours
        '  <widget class="ValueLabel" name="level_2">\n'
        '   <property name="tag"><string>area1/t101/level</string></property>\n'
        '   <property name="note" stdset="0"><string>spare</string></property>\n'
        "  </widget>",
    )
    project = _project(tmp_path, {"a.ui": text}, "- {name: a, file: a.ui}")
    report = check_screens(project, _specs(project))
    where = tmp_path / "a.ui"
    assert [str(e) for e in report.errors] == [
        f"{where}:{_line_of(text, 'level_1')}: level_1.chrs: ValueLabel has no property "
        "'chrs' (did you mean 'chars'?)",
        f"{where}:{_line_of(text, 'tank_1')}: tank_1.fillColour: Tank has no property 'fillColour'",
    ]


def test_hmi_check_reports_an_unknown_property_as_a_user_runs_it(tmp_path):
    text = _ui(_w("ValueLabel", "level_1", tag="area1/t101/level", fromat="%.2f"))
    (tmp_path / "a.ui").write_text(text)
    project = tmp_path / "plant.yaml"
    project.write_text(PROJECT.replace("{screens}", "  - {name: a, file: a.ui}"))
    done = subprocess.run(
        [sys.executable, "-m", "hmi", "check", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    assert (
        f"a.ui:{_line_of(text, 'level_1')}: level_1.fromat: ValueLabel has no property "
        "'fromat' (did you mean 'format'?)"
    ) in done.stderr
