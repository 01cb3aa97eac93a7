"""Choosing a widget's tag in Qt Designer from the project's tag list.

Designer's property editor edits a string property in a plain line edit; it cannot offer
a list. Instead, every widget with a ``tag`` property gets entries in its context menu
(right click; the first one also on double click): **Choose tag ...** (and **Choose fault
tag ...** for equipment) open :class:`TagChooser`, a filterable list of the previewed
project's tags with unit and description. The choice is set through Designer's form
cursor, so it is undoable and saved like a property typed by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.core.tag import Tag
from hmi.qt.designer_preview import preview_tags, previewed_project

#: the interface id of Designer's task menu extension
TASK_MENU_IID = "org.qt-project.Qt.Designer.TaskMenu"
#: the properties naming one tag, and the menu entry choosing each
TAG_PROPERTIES = (("tag", "Choose tag ..."), ("faultTag", "Choose fault tag ..."))


class TagChooser(QDialog):
    """A list of tags to pick one from, filtered as the engineer types."""

    def __init__(
        self, tags: Sequence[Tag], current: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Choose a tag of {previewed_project() or 'the project'}")
        self.resize(560, 480)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("filter: part of a name or description")
        self.list = QListWidget(self)
        for tag in tags:
            unit = f" [{tag.unit}]" if tag.unit else ""
            writes = "  (writable)" if tag.write_roles else ""
            text = f"{tag.name}{unit}  {tag.description}{writes}".rstrip()
            item = QListWidgetItem(text, self.list)
            item.setData(Qt.ItemDataRole.UserRole, tag.name)
            if tag.name == current:
                self.list.setCurrentItem(item)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        layout = QVBoxLayout(self)
        if not tags:
            layout.addWidget(
                QLabel(
                    "No project tags: start Designer with\n"
                    "    hmi designer --project plant.yaml SCREEN.ui",
                    self,
                )
            )
        layout.addWidget(self.filter)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.buttons)
        self.filter.textChanged.connect(self._filter)
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setHidden(not all(word in item.text().lower() for word in words))

    def chosen(self) -> str:
        """The selected tag name ("" when none)."""
        item = self.list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""


def set_designer_property(widget: QWidget, name: str, value: Any) -> None:
    """Set a property the way Designer does (undoable, saved); directly outside Designer."""
    from PySide6.QtDesigner import QDesignerFormWindowInterface

    form = QDesignerFormWindowInterface.findFormWindow(widget)
    if form is not None:
        form.cursor().setWidgetProperty(widget, name, value)
    else:
        widget.setProperty(name, value)


def tag_properties(widget: QObject) -> list[tuple[str, str]]:
    """The (property, menu text) pairs of ``widget`` that name a tag."""
    meta = widget.metaObject()
    return [(name, text) for name, text in TAG_PROPERTIES if meta.indexOfProperty(name) >= 0]


def choose_tag(widget: QWidget, prop: str) -> str:
    """Ask for a tag for ``widget``'s ``prop`` and set it; the tag chosen ("" if none)."""
    dialog = TagChooser(preview_tags(), str(widget.property(prop) or ""), widget.window())
    if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.chosen():
        return ""
    set_designer_property(widget, prop, dialog.chosen())
    return dialog.chosen()


def task_menu_factory(manager: Any, classes: set[str]) -> Any:
    """Designer's extension factory giving the widgets of ``classes`` their tag menu."""
    from PySide6.QtDesigner import QExtensionFactory, QPyDesignerTaskMenuExtension

    class TagTaskMenu(QPyDesignerTaskMenuExtension):
        """The "Choose tag ..." entries of one widget's context menu."""

        def __init__(self, widget: QWidget, parent: QObject) -> None:
            super().__init__(parent)
            self._actions = []
            for prop, text in tag_properties(widget):
                action = QAction(text, parent)
                action.triggered.connect(lambda _=False, p=prop: choose_tag(widget, p))
                self._actions.append(action)

        def taskActions(self) -> list[QAction]:
            return list(self._actions)

        def preferredEditAction(self) -> QAction:
            # Double click on the widget: choose its tag.
            return self._actions[0]

    class TagMenuFactory(QExtensionFactory):
        def createExtension(self, obj: QObject, iid: str, parent: QObject) -> Any:
            if iid != TASK_MENU_IID or type(obj).__name__ not in classes:
                return None
            if not isinstance(obj, QWidget) or not tag_properties(obj):
                return None  # TagTaskMenu needs at least one action
            return TagTaskMenu(obj, parent)

    return TagMenuFactory(manager)
