"""Which screens exist: the project's, or the built-in demo plant screens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hmi.project import Project

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
)


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
        return cls(DEMO_SCREENS, "overview")

    @classmethod
    def for_project(cls, project: Project | None) -> ScreenCatalog:
        """The project's screens; the demo screens when it defines none (demo plant)."""
        if project is None or not project.screens:
            return cls.demo()
        entries = [
            ScreenEntry(s.name, s.file, s.title, dict(s.macros), faceplate=bool(_macros_of(s.file)))
            for s in project.screens.values()
        ]
        return cls(entries, project.start_screen)

    def get(self, name: str) -> ScreenEntry | None:
        """The screen called ``name``."""
        return self.entries.get(name)

    def menu(self) -> list[ScreenEntry]:
        """Screens for the navigation bar (faceplates open from equipment instead)."""
        return [entry for entry in self.entries.values() if not entry.faceplate]


def _macros_of(path: Path) -> set[str]:
    from hmi.qt.loader import macros_in

    try:
        return macros_in(path.read_text(encoding="utf-8"))
    except OSError:
        return set()
