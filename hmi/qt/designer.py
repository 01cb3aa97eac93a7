"""Registering our widgets with Qt Designer (the Designer that ships with PySide6).

Designer runs every ``register*.py`` in the folders of ``PYSIDE_DESIGNER_PLUGINS``;
``hmi designer`` writes a one-line plugin there that imports ``hmi.widgets`` and calls
:func:`register_with_designer`. Each widget is added as a
``QDesignerCustomWidgetInterface``: it appears in the widget box's "HMI" group with its own
icon and tooltip, its Qt Properties (``tag`` first) editable; the first one Designer
initializes also installs the "Choose tag ..." context menu (hmi.qt.designer_tags).
Inside Designer the widgets draw their design-time look (hmi.qt.designer_preview).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hmi.qt.registry import GROUP, WidgetInfo, registered_widgets

log = logging.getLogger(__name__)

#: the plugin file ``hmi designer`` writes into its plugin folder
PLUGIN_SOURCE = '''"""Qt Designer plugin written by `hmi designer`: registers the HMI widgets."""
from hmi.widgets.designer_plugin import register

register()
'''

#: Qt Designer's application name: the preview is switched on only inside it
DESIGNER_APPLICATION = "Designer"


def in_designer() -> bool:
    """True inside Qt Designer (not in the application, not in tests)."""
    from PySide6.QtCore import QCoreApplication

    return QCoreApplication.applicationName() == DESIGNER_APPLICATION


def widget_plugin(info: WidgetInfo, on_initialize: Callable[[Any], None]) -> Any:
    """Designer's description of one widget class: ``QDesignerCustomWidgetInterface``."""
    from PySide6.QtDesigner import QDesignerCustomWidgetInterface
    from PySide6.QtGui import QIcon

    class WidgetPlugin(QDesignerCustomWidgetInterface):
        """One HMI widget in Designer's widget box."""

        def __init__(self) -> None:
            super().__init__()
            self.info = info
            self._core: Any = None

        def createWidget(self, parent: Any) -> Any:
            return info.cls(parent)

        def domXml(self) -> str:
            return info.xml

        def group(self) -> str:
            return GROUP

        def icon(self) -> QIcon:
            return QIcon(info.icon) if info.icon else QIcon()

        def includeFile(self) -> str:
            # Designer writes it into the .ui's <header>: the module QUiLoader users import.
            return info.module

        def initialize(self, core: Any) -> None:
            if self._core is None:
                self._core = core
                on_initialize(core)

        def isContainer(self) -> bool:
            return info.container

        def isInitialized(self) -> bool:
            return self._core is not None

        def name(self) -> str:
            return info.cls.__name__

        def toolTip(self) -> str:
            return info.tool_tip

        def whatsThis(self) -> str:
            return info.tool_tip

    return WidgetPlugin()


def register_with_designer(
    widgets: list[WidgetInfo] | None = None,
    add: Callable[[Any], Any] | None = None,
) -> list[str]:
    """Add ``widgets`` (default: all) to Designer; returns the class names.

    ``add`` defaults to ``QPyDesignerCustomWidgetCollection.addCustomWidget``; tests pass
    a recorder. Inside Designer, widgets get their design-time look from here on.
    """
    if add is None:
        from PySide6.QtDesigner import QPyDesignerCustomWidgetCollection

        add = QPyDesignerCustomWidgetCollection.addCustomWidget
    infos = widgets if widgets is not None else registered_widgets()
    if in_designer():
        from hmi.qt.designer_preview import enable_preview_from_environment

        log.warning("hmi designer: %s", enable_preview_from_environment())
    classes = {info.cls.__name__ for info in infos}
    installed: list[bool] = []

    def install_menus(core: Any) -> None:
        # Once per Designer: the tag menu of every HMI widget.
        if installed:
            return
        installed.append(True)
        from hmi.qt.designer_tags import TASK_MENU_IID, task_menu_factory

        manager = core.extensionManager()
        if manager is not None:
            manager.registerExtensions(task_menu_factory(manager, classes), TASK_MENU_IID)

    names = []
    for info in infos:
        add(widget_plugin(info, install_menus))
        names.append(info.cls.__name__)
    return names
