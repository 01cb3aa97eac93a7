"""Registering our widgets with Qt Designer (the Designer that ships with PySide6).

Designer runs every ``register*.py`` in the folders of ``PYSIDE_DESIGNER_PLUGINS``;
``hmi designer`` writes a one-line plugin there that imports ``hmi.widgets`` and calls
:func:`register_with_designer`. Widgets appear in the widget box's "HMI" group with their
Qt Properties (``tag`` first) editable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hmi.qt.registry import GROUP, WidgetInfo, registered_widgets

#: the plugin file ``hmi designer`` writes into its plugin folder
PLUGIN_SOURCE = '''"""Qt Designer plugin written by `hmi designer`: registers the HMI widgets."""
from hmi.widgets.designer_plugin import register

register()
'''


def register_with_designer(
    widgets: list[WidgetInfo] | None = None,
    register: Callable[..., Any] | None = None,
) -> list[str]:
    """Register ``widgets`` (default: all) with Designer; returns the class names.

    ``register`` defaults to ``QPyDesignerCustomWidgetCollection.registerCustomWidget``;
    tests pass a recorder.
    """
    if register is None:
        from PySide6.QtDesigner import QPyDesignerCustomWidgetCollection

        register = QPyDesignerCustomWidgetCollection.registerCustomWidget
    names = []
    for info in widgets if widgets is not None else registered_widgets():
        register(
            info.cls,
            xml=info.xml,
            tool_tip=info.tool_tip,
            group=GROUP,
            module=info.module,
            container=info.container,
        )
        names.append(info.cls.__name__)
    return names
