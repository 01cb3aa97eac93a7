"""The ISA-101 high-performance theme: grey, calm, colour only for abnormal states."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

#: package data, so it is found from a source tree, a wheel install and a PyInstaller folder
RESOURCES = Path(__file__).resolve().parent / "resources"
THEME = RESOURCES / "theme.qss"
#: the application icon (also the .desktop file's ``Icon=hmi``)
ICON = RESOURCES / "icons" / "hmi.svg"


def theme_text(path: Path | None = None) -> str:
    """The style sheet text, or ``""`` when the file is missing (Qt's default look)."""
    try:
        return (path or THEME).read_text(encoding="utf-8")
    except OSError:
        return ""


def apply_theme(app: QApplication, path: Path | None = None) -> bool:
    """Set the theme and icon on the whole application once at start-up; False when not found.

    Set once: widgets draw quality and alarm state themselves, so the style sheet never
    changes at runtime (no re-polish storms).
    """
    text = theme_text(path)
    if ICON.is_file():
        app.setWindowIcon(QIcon(str(ICON)))
    if text:
        app.setStyleSheet(text)
    return bool(text)


_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_FONT_SIZE = re.compile(r"font-size\s*:\s*(\d+(?:\.\d+)?)px")


def scaled_fonts(zoom: float, text: str | None = None) -> str:
    """The theme's font sizes times ``zoom``, as a style sheet of font sizes only.

    Set on a drawing shown larger than designed (hmi.screens.fit), it scales its text with
    its geometry; every other property still comes from the application's theme.
    """
    source = theme_text() if text is None else text
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    rules = []
    for selector, body in _RULE.findall(source):
        size = _FONT_SIZE.search(body)
        if size is not None:
            pixels = max(1, round(float(size.group(1)) * zoom))
            rules.append(f"{selector.strip()} {{ font-size: {pixels}px; }}")
    return "\n".join(rules)
