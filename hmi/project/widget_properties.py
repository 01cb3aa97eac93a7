"""The Qt properties each of our widgets has, without importing Qt: what ``hmi check``
knows a ``.ui`` file may set on them (a misspelt property, ``chrs`` for ``chars``, was
silently ignored: the label drawn at another width). Read from the widgets' metaobjects;
tests/qt/test_widget_properties.py fails, naming what differs, when a widget changes.
"""

from __future__ import annotations

from collections.abc import Mapping

#: QWidget's properties (every widget has them)
QWIDGET = frozenset(
    {
        "acceptDrops",
        "accessibleDescription",
        "accessibleIdentifier",
        "accessibleName",
        "autoFillBackground",
        "baseSize",
        "childrenRect",
        "childrenRegion",
        "contextMenuPolicy",
        "cursor",
        "enabled",
        "focus",
        "focusPolicy",
        "font",
        "frameGeometry",
        "frameSize",
        "fullScreen",
        "geometry",
        "height",
        "inputMethodHints",
        "isActiveWindow",
        "layoutDirection",
        "locale",
        "maximized",
        "maximumHeight",
        "maximumSize",
        "maximumWidth",
        "minimized",
        "minimumHeight",
        "minimumSize",
        "minimumSizeHint",
        "minimumWidth",
        "modal",
        "mouseTracking",
        "normalGeometry",
        "objectName",
        "palette",
        "pos",
        "rect",
        "size",
        "sizeHint",
        "sizeIncrement",
        "sizePolicy",
        "statusTip",
        "styleSheet",
        "tabletTracking",
        "toolTip",
        "toolTipDuration",
        "updatesEnabled",
        "visible",
        "whatsThis",
        "width",
        "windowFilePath",
        "windowIcon",
        "windowIconText",
        "windowModality",
        "windowModified",
        "windowOpacity",
        "windowTitle",
        "x",
        "y",
    }
)

#: class -> the properties it declares or inherits beyond QWidget's
OWN: Mapping[str, frozenset[str]] = {
    "ValueLabel": frozenset(
        {
            "alignment",
            "chars",
            "format",
            "frameRect",
            "frameShadow",
            "frameShape",
            "frameWidth",
            "hasSelectedText",
            "indent",
            "lineWidth",
            "margin",
            "midLineWidth",
            "openExternalLinks",
            "pixmap",
            "scaledContents",
            "selectedText",
            "showUnit",
            "tag",
            "text",
            "textFormat",
            "textInteractionFlags",
            "wordWrap",
        }
    ),
    "Gauge": frozenset({"maximum", "minimum", "tag"}),
    "AnalogIndicator": frozenset({"tag"}),
    "Tank": frozenset({"tag"}),
    "StateIndicator": frozenset({"shape", "states", "tag"}),
    "Valve": frozenset({"faceplate", "faultTag", "faultText", "label", "macros", "tag"}),
    "Pump": frozenset({"faceplate", "faultTag", "faultText", "label", "macros", "symbol", "tag"}),
    "Motor": frozenset({"faceplate", "faultTag", "faultText", "label", "macros", "symbol", "tag"}),
    "Heater": frozenset({"faceplate", "faultTag", "faultText", "label", "macros", "tag"}),
    "CommandButton": frozenset(
        {
            "autoDefault",
            "autoExclusive",
            "autoRepeat",
            "autoRepeatDelay",
            "autoRepeatInterval",
            "checkable",
            "checked",
            "confirm",
            "confirmText",
            "default",
            "down",
            "flat",
            "icon",
            "iconSize",
            "mode",
            "shortcut",
            "tag",
            "text",
            "value",
        }
    ),
    "SetpointEntry": frozenset({"format", "tag"}),
    "Trend": frozenset({"capacity", "span", "tags"}),
    "NavigationButton": frozenset(
        {
            "autoDefault",
            "autoExclusive",
            "autoRepeat",
            "autoRepeatDelay",
            "autoRepeatInterval",
            "checkable",
            "checked",
            "default",
            "down",
            "flat",
            "icon",
            "iconSize",
            "macros",
            "popup",
            "shortcut",
            "target",
            "text",
        }
    ),
    "AlarmBanner": frozenset({"lines"}),
    "AlarmList": frozenset(),
}


#: what Designer writes as a property that is no Qt property (uic sets it another way)
DESIGNER_ONLY = frozenset({"buddy"})


def properties_of(widget_class: str) -> frozenset[str] | None:
    """The properties a ``.ui`` file may set on one of our widgets; None for another class."""
    own = OWN.get(widget_class)
    return None if own is None else QWIDGET | own | DESIGNER_ONLY
