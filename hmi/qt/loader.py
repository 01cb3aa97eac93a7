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
_WIDGET_CLASS = re.compile(r"<widget\s+class=\"([A-Za-z_][A-Za-z0-9_]*)\"")


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


class _SharedLoader:
    """One QUiLoader for every screen, each widget class registered with it once.

    ``registerCustomWidget`` costs about 1.7 ms a class (PySide inspects it): a loader
    made per screen with every class registered cost 25 ms a screen, a third of the
    demo's first screen. Here a screen registers only the classes its file names, and
    only the first time.
    """

    def __init__(self) -> None:
        self.loader: QUiLoader | None = None
        self.classes: dict[str, type[QWidget]] = {}

    def get(self, text: str) -> QUiLoader:
        """The loader, with every registered class ``text`` names registered."""
        wanted = set(_CUSTOM_CLASS.findall(text)) | set(_WIDGET_CLASS.findall(text))
        infos = [info for info in registered_widgets() if info.cls.__name__ in wanted]
        if self.loader is None or any(
            self.classes.get(info.cls.__name__, info.cls) is not info.cls for info in infos
        ):
            # First use, or a class registered again under its name: start afresh.
            self.loader, self.classes = QUiLoader(), {}
        for info in infos:
            if info.cls.__name__ not in self.classes:
                self.loader.registerCustomWidget(info.cls)
                self.classes[info.cls.__name__] = info.cls
        return self.loader


_shared = _SharedLoader()


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
    loader = _shared.get(text)
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
