"""Which screens exist: the built-in demo plant screens and the project's own.

A project's ``screens:`` are added to the built-in ones (a project screen of the same name
replaces the built-in one); ``builtin_screens: false`` drops the built-in ones. A screen is a
*faceplate* (opened as a popup by equipment or a NavigationButton, not listed in the
navigation bar) when its file uses a macro its entry does not define: it cannot be drawn
until the one who opens it says which device it shows. A screen whose macros are all given
in the project (``area.ui`` listed twice, as ``area1`` and ``area2``) is a screen like any
other, with its own navigation button.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hmi.project import Project

log = logging.getLogger(__name__)

UI_DIR = Path(__file__).resolve().parent / "ui"


@dataclass(frozen=True, slots=True)
class ScreenEntry:
    """A screen file, its title (may use macros), its default macros, and whether it is
    a faceplate (opened as a popup, not listed in the navigation bar)."""

    name: str
    file: Path
    title: str = ""
    macros: Mapping[str, str] = field(default_factory=dict)
    faceplate: bool = False


#: the demo plant's screens (tag names of examples/demo-plant.yaml)
DEMO_SCREENS = (
    ScreenEntry("overview", UI_DIR / "overview.ui", "Overview"),
    ScreenEntry("trends", UI_DIR / "trends.ui", "Trends"),
    ScreenEntry("alarms", UI_DIR / "alarms.ui", "Alarms"),
    ScreenEntry(
        "pump",
        UI_DIR / "pump.ui",
        "${NAME} pump",
        {"DEV": "area1/p101", "NAME": "P-101", "FLOW": "area1/ft102/flow"},
        faceplate=True,
    ),
    ScreenEntry(
        "valve",
        UI_DIR / "valve.ui",
        "${NAME} valve",
        {"DEV": "area1/fv101", "NAME": "FV-101"},
        faceplate=True,
    ),
    ScreenEntry(
        "pid",
        UI_DIR / "pid.ui",
        "${NAME} controller",
        {"LOOP": "area1/lic101", "PV": "area1/t101/level", "NAME": "LIC-101"},
        faceplate=True,
    ),
    ScreenEntry(
        "heater",
        UI_DIR / "heater.ui",
        "${NAME} heater",
        {"DEV": "area1/e101", "NAME": "E-101"},
        faceplate=True,
    ),
)
#: the built-in home screen
DEMO_HOME = "overview"


class ScreenCatalog:
    """Screens by name, and the one shown first (home)."""

    def __init__(
        self, entries: list[ScreenEntry] | tuple[ScreenEntry, ...], home: str = ""
    ) -> None:
        self.entries = {entry.name: entry for entry in entries}
        self.home = home or next(iter(self.entries), "")

    @classmethod
    def demo(cls) -> ScreenCatalog:
        """The demo plant screens."""
        return cls(DEMO_SCREENS, DEMO_HOME)

    @classmethod
    def for_project(cls, project: Project | None) -> ScreenCatalog:
        """The built-in screens (unless ``builtin_screens: false``) and the project's.

        Home is the project's ``start_screen``; unset, the built-in home when the built-in
        screens are kept, else the project's first screen that is not a faceplate. A
        faceplate of the project cannot be home (nobody gave it its device's macros): it
        is replaced the same way, with a warning (``hmi check`` says so too).
        """
        if project is None:
            return cls.demo()
        entries: dict[str, ScreenEntry] = {}
        if project.builtin_screens:
            entries.update((entry.name, entry) for entry in DEMO_SCREENS)
        for screen in project.screens.values():
            macros = dict(screen.macros)
            entries[screen.name] = ScreenEntry(
                screen.name,
                screen.file,
                screen.title,
                macros,
                faceplate=bool(_macros_of(screen.file) - macros.keys()),
            )
        home = project.start_screen
        # A project screen marked faceplate lacks macros; a built-in one has defaults.
        own = [s for s in project.screens if not entries[s].faceplate]
        if not home or (home in project.screens and entries[home].faceplate):
            fallback = DEMO_HOME if project.builtin_screens else next(iter(own), "")
            if home:
                log.warning(
                    "screen %r cannot be shown first: it is a faceplate (its file uses "
                    "macros its entry does not give); opening %r instead",
                    home,
                    fallback,
                )
            home = fallback
        return cls(list(entries.values()), home)

    def get(self, name: str) -> ScreenEntry | None:
        """The screen called ``name``."""
        return self.entries.get(name)

    def title_of(self, entry: ScreenEntry) -> str:
        """The entry's title with its macros substituted (``Area ${AREA}`` -> ``Area 2``)."""
        from hmi.qt.loader import ScreenError, substitute_macros

        try:
            return substitute_macros(entry.title or entry.name, entry.macros)
        except ScreenError:
            return entry.title or entry.name

    def menu(self) -> list[ScreenEntry]:
        """Screens for the navigation bar (faceplates open from equipment instead)."""
        return [entry for entry in self.entries.values() if not entry.faceplate]


def _macros_of(path: Path) -> set[str]:
    from hmi.qt.loader import macros_in

    try:
        return macros_in(path.read_text(encoding="utf-8"))
    except OSError:
        return set()
