"""Which screens a project shows: the built-in ones stay beside its own, a screen given all
its macros gets a navigation button, a faceplate does not; and where a faceplate goes."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSize

from hmi.core import TagStore
from hmi.project import load_project
from hmi.screens.catalog import DEMO_SCREENS, ScreenCatalog
from hmi.screens.placement import place_beside
from hmi.screens.shell import MainWindow
from tests.widgets.support import DEMO, make_context

AREA_UI = """\
<?xml version="1.0" encoding="UTF-8"?>
<ui version="4.0"><class>area</class>
 <widget class="QWidget" name="area">
  <property name="geometry">
   <rect><x>0</x><y>0</y><width>300</width><height>100</height></rect>
  </property>
  <widget class="ValueLabel" name="level">
   <property name="tag"><string>area1/${TANK}/level</string></property>
  </widget>
 </widget>
 <customwidgets><customwidget><class>ValueLabel</class><extends>QLabel</extends>
 <header>hmi.widgets.value_label</header></customwidget></customwidgets>
</ui>
"""


def _project(tmp_path: Path, extra: str):
    (tmp_path / "area.ui").write_text(AREA_UI)
    path = tmp_path / "plant.yaml"
    path.write_text(DEMO.read_text() + "\n" + textwrap.dedent(extra))
    return load_project(path)


SCREENS = """\
screens:
  - {name: tank, file: area.ui, title: "Tank ${TANK}", macros: {TANK: t101}}
  - {name: area, file: area.ui, title: "Area ${TANK}"}
"""


def test_a_project_screen_adds_to_the_built_in_ones(tmp_path):
    catalog = ScreenCatalog.for_project(_project(tmp_path, SCREENS))
    builtin = [entry.name for entry in DEMO_SCREENS]
    assert list(catalog.entries) == [*builtin, "tank", "area"]
    assert catalog.home == "overview"  # no start_screen: the built-in home stays
    menu = [catalog.title_of(entry) for entry in catalog.menu()]
    # "tank" is given its macro: a navigation button; "area" needs TANK: a faceplate.
    assert menu == ["Overview", "Trends", "Alarms", "Tank t101"]
    assert catalog.get("area").faceplate and not catalog.get("tank").faceplate


def test_builtin_screens_false_keeps_only_the_projects_and_start_screen_is_home(tmp_path):
    project = _project(tmp_path, "builtin_screens: false\n" + SCREENS)
    catalog = ScreenCatalog.for_project(project)
    assert list(catalog.entries) == ["tank", "area"] and catalog.home == "tank"
    project = _project(tmp_path, "start_screen: trends\n" + SCREENS)
    assert ScreenCatalog.for_project(project).home == "trends"


def test_a_faceplate_is_never_home_the_first_screen_of_the_bar_is(tmp_path, caplog):
    # "area" lacks TANK: listed first (the default home) or named in start_screen, it
    # cannot be drawn; the window opens on the first screen of the navigation bar.
    faceplate_first = "screens:\n" + "\n".join(reversed(SCREENS.splitlines()[1:])) + "\n"
    project = _project(tmp_path, "builtin_screens: false\n" + faceplate_first)
    assert project.start_screen == "area"
    assert ScreenCatalog.for_project(project).home == "tank"
    project = _project(tmp_path, "start_screen: area\n" + SCREENS)
    assert ScreenCatalog.for_project(project).home == "overview"
    assert "screen 'area' cannot be shown first" in caplog.text


def test_a_project_screen_of_a_built_in_name_replaces_it(tmp_path):
    extra = "screens:\n  - {name: overview, file: area.ui, macros: {TANK: t101}}\n"
    catalog = ScreenCatalog.for_project(_project(tmp_path, extra))
    assert catalog.get("overview").file == tmp_path / "area.ui"
    assert len(catalog.entries) == len(DEMO_SCREENS)


def test_the_navigation_bar_shows_what_an_engineer_listed(qtbot, tmp_path):
    project = _project(tmp_path, SCREENS)
    store = TagStore(project.tags.values())
    window = MainWindow(project, store, make_context(store))
    qtbot.addWidget(window)
    buttons = {name: button.text() for name, button in window.screen_buttons.items()}
    assert buttons == {
        "overview": "Overview",
        "trends": "Trends",
        "alarms": "Alarms",
        "tank": "Tank t101",
    }
    window.screen_buttons["tank"].click()
    assert window.screen_title.text() == "Tank t101"
    assert window.navigator.current_view.tag_names() == {"area1/t101/level"}


AREA = QRect(0, 0, 1920, 1080)


def test_a_faceplate_goes_right_of_its_equipment_when_there_is_room():
    pump = QRect(400, 500, 80, 92)
    corner = place_beside(pump, QSize(360, 330), AREA)
    assert corner.x() == pump.right() + 1 + 16 and not QRect(corner, QSize(360, 330)).intersects(
        pump
    )


def test_a_faceplate_goes_left_below_or_above_when_right_is_full():
    size = QSize(360, 330)
    right_edge = QRect(1800, 500, 80, 92)
    assert place_beside(right_edge, size, AREA).x() == 1800 - 16 - 360
    wide_at_the_bottom = QRect(200, 900, 1600, 170)
    placed = QRect(place_beside(wide_at_the_bottom, QSize(1500, 330), AREA), QSize(1500, 330))
    assert placed.bottom() < wide_at_the_bottom.top() and AREA.contains(placed)
    wide_at_the_top = QRect(200, 40, 1600, 170)
    placed = QRect(place_beside(wide_at_the_top, QSize(1500, 330), AREA), QSize(1500, 330))
    assert placed.top() > wide_at_the_top.bottom() and AREA.contains(placed)


def test_a_faceplate_hides_as_little_other_equipment_as_it_can():
    pump = QRect(400, 500, 80, 92)
    neighbour = QRect(520, 480, 200, 200)  # right of the pump
    corner = place_beside(pump, QSize(300, 300), AREA, avoid=[neighbour])
    assert corner == QPoint(400 - 16 - 300, 484)  # left: the neighbour stays visible


def test_a_faceplate_too_large_for_any_side_still_stays_on_the_screen():
    pump = QRect(900, 400, 80, 92)
    corner = place_beside(pump, QSize(1900, 1000), AREA)
    assert AREA.contains(QRect(corner, QSize(1900, 1000)))
