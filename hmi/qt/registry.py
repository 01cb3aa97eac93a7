"""The widget classes screens may use: filled by ``hmi.widgets`` as its modules import.

The screen loader registers them with QUiLoader, the Designer plugin with Designer. The
registry lives here (not in hmi.widgets) because hmi.qt may not import the widgets layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from PySide6.QtWidgets import QWidget

W = TypeVar("W", bound=type[QWidget])

#: the widget-box group of Qt Designer our widgets appear in
GROUP = "HMI"
#: each widget's own icon in Designer's widget box: ``<class name>.svg``
ICON_DIR = Path(__file__).resolve().parent / "resources" / "icons" / "widgets"


@dataclass(frozen=True, slots=True)
class WidgetInfo:
    """One widget class and how Designer shows it."""

    cls: type[QWidget]
    tool_tip: str
    #: the Python module holding the class (Designer writes it into the .ui <header>)
    module: str
    #: initial properties in Designer's ``<widget>`` XML (geometry, tag placeholder ...)
    xml: str
    container: bool = False
    #: the widget box icon (an SVG file; "" when the class has none)
    icon: str = ""


_WIDGETS: dict[str, WidgetInfo] = {}


def register_widget(
    tool_tip: str, *, width: int = 120, height: int = 40, container: bool = False
) -> Callable[[W], W]:
    """Class decorator: make a widget available to screens and to Designer's HMI group."""

    def decorate(cls: W) -> W:
        name = cls.__name__
        xml = (
            f'<ui language="c++"><widget class="{name}" name="{name[0].lower()}{name[1:]}">'
            f'<property name="geometry"><rect><x>0</x><y>0</y><width>{width}</width>'
            f"<height>{height}</height></rect></property></widget></ui>"
        )
        icon = ICON_DIR / f"{name}.svg"
        _WIDGETS[name] = WidgetInfo(
            cls, tool_tip, cls.__module__, xml, container, str(icon) if icon.is_file() else ""
        )
        return cls

    return decorate


def registered_widgets() -> list[WidgetInfo]:
    """Every registered widget, in registration order."""
    return list(_WIDGETS.values())


def widget_class(name: str) -> type[QWidget] | None:
    """The registered class called ``name``."""
    info = _WIDGETS.get(name)
    return info.cls if info is not None else None
