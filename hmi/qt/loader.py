"""Loading ``.ui`` screens at runtime: ``${MACRO}`` substitution, then QUiLoader.

No code generation: the file Designer saved is the file the operator station loads. Macros
are substituted in the XML text before Qt parses it (values XML-escaped), so one faceplate
``.ui`` serves every pump: ``tag = ${DEV}/running`` with ``DEV=area1/p101``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtUiTools import QUiLoader
from PySide6.QtWidgets import QWidget

from hmi.qt.registry import registered_widgets

_MACRO = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CUSTOM_CLASS = re.compile(r"<customwidget>\s*<class>\s*([A-Za-z_][A-Za-z0-9_]*)\s*</class>")


class ScreenError(Exception):
    """A screen file that cannot be loaded; the message names the file and the problem."""


def macros_in(text: str) -> set[str]:
    """The macro names ``${NAME}`` used in ``text``."""
    return set(_MACRO.findall(text))


def substitute_macros(text: str, macros: Mapping[str, str], *, source: str = "") -> str:
    """Replace every ``${NAME}``; an undefined macro is an error, never left in a tag name."""
    missing = sorted(macros_in(text) - macros.keys())
    if missing:
        where = f"{source}: " if source else ""
        raise ScreenError(f"{where}undefined macro(s): {', '.join(missing)}")
    return _MACRO.sub(lambda match: escape(macros[match.group(1)], {'"': "&quot;"}), text)


def _loader() -> QUiLoader:
    loader = QUiLoader()
    for info in registered_widgets():
        loader.registerCustomWidget(info.cls)
    return loader


def load_ui_text(
    text: str,
    macros: Mapping[str, str] | None = None,
    parent: QWidget | None = None,
    *,
    source: str = "<text>",
) -> QWidget:
    """Build the widget tree described by ``.ui`` XML ``text`` after macro substitution."""
    known = {info.cls.__name__ for info in registered_widgets()}
    unknown = sorted(set(_CUSTOM_CLASS.findall(text)) - known)
    if unknown:
        # QUiLoader would silently put a plain QWidget there: a screen with holes.
        raise ScreenError(
            f"{source}: unknown widget class(es) {', '.join(unknown)} "
            "(import hmi.widgets before loading screens)"
        )
    data = QByteArray(substitute_macros(text, macros or {}, source=source).encode("utf-8"))
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    loader = _loader()
    widget = loader.load(buffer, parent)
    buffer.close()
    if widget is None:
        raise ScreenError(f"{source}: {loader.errorString() or 'not a valid .ui file'}")
    return widget


def load_ui(
    path: str | Path, macros: Mapping[str, str] | None = None, parent: QWidget | None = None
) -> QWidget:
    """Load the ``.ui`` file at ``path`` with ``macros`` substituted."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScreenError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return load_ui_text(text, macros, parent, source=str(path))
