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

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
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
        self.list.currentItemChanged.connect(lambda *_: self._follow_choice())
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        # Type, then Enter: the filter keeps the focus, Up/Down move in the list.
        self.filter.installEventFilter(self)
        self.filter.setFocus()
        self._follow_choice()

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        first = None
        for row in range(self.list.count()):
            item = self.list.item(row)
            hidden = not all(word in item.text().lower() for word in words)
            item.setHidden(hidden)
            if first is None and not hidden:
                first = item
        current = self.list.currentItem()
        if current is None or current.isHidden():
            # The first match is the choice: typing "t101" and Enter picks the one shown.
            if first is not None:
                self.list.setCurrentItem(first)
            else:
                self.list.setCurrentRow(-1)
        self._follow_choice()

    def _follow_choice(self) -> None:
        # OK only with a tag chosen: Enter with nothing chosen would close the dialog and
        # leave the property as it was, which looks like a choice that did not take.
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.chosen()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up/Down (and page keys) typed in the filter move the list's choice."""
        moves = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)
        if (
            watched is self.filter
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in moves
        ):
            QApplication.sendEvent(self.list, event)
            return True
        return super().eventFilter(watched, event)

    def chosen(self) -> str:
        """The selected tag name ("" when none, or when the filter hides it)."""
        item = self.list.currentItem()
        if item is None or item.isHidden():
            return ""
        return str(item.data(Qt.ItemDataRole.UserRole))


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
