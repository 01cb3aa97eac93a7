"""The ISA-101 high-performance theme: grey, calm, colour only for abnormal states."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

#: resources/theme.qss of the source tree (next to the hmi package)
THEME = Path(__file__).resolve().parents[2] / "resources" / "theme.qss"


def theme_text(path: Path | None = None) -> str:
    """The style sheet text, or ``""`` when the file is missing (Qt's default look)."""
    try:
        return (path or THEME).read_text(encoding="utf-8")
    except OSError:
        return ""


def apply_theme(app: QApplication, path: Path | None = None) -> bool:
    """Set the theme on the whole application once at start-up; False when not found.

    Set once: widgets draw quality and alarm state themselves, so the style sheet never
    changes at runtime (no re-polish storms).
    """
    text = theme_text(path)
    if text:
        app.setStyleSheet(text)
    return bool(text)
