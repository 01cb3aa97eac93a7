"""Screens checked before they run: what ``hmi check`` says about a project's ``.ui`` files.

A screen is XML that Qt Designer saved; it names tags in widget properties. Nothing here
imports Qt: the files are read as XML (with line numbers) and checked against the
project's tags:

- every tag a widget shows or writes exists (``unknown tag``, with the nearest name);
- a widget that writes (CommandButton, SetpointEntry, a bound QPushButton or QCheckBox)
  is bound to a tag someone may write: not computed, not at a read-only address, with
  ``write_roles``;
- ``${MACROS}`` resolve: a screen of the navigation bar defines all of its own; equipment
  and NavigationButtons that open a screen name a screen that exists and give it exactly
  the macros it uses (the tags of a faceplate are checked with the macros of every
  widget that opens it);
- a stock Qt widget with a ``tag`` property is one that can show it.

Errors are :class:`~hmi.project.errors.ConfigError` (``file:line: widget.property:
message``, the line of the widget in the XML). Findings in the built-in screens are
*notes*: the engineer cannot edit those files, and a project that does not have the demo
plant's tags should drop them (``builtin_screens: false``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from hmi.core.tag import Tag
from hmi.project.errors import ConfigError, FileErrors
from hmi.project.model import Project
from hmi.project.source import SourceError, read_source
from hmi.project.widget_properties import properties_of

_MACRO = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: the most (screen, macros) pairs checked: faceplates opening faceplates cannot run away
_MOST_CONTEXTS = 2000


@dataclass(frozen=True, slots=True)
class WidgetKind:
    """Which properties of a widget class name tags, and what it does with them."""

    #: properties naming one tag the widget shows
    reads: tuple[str, ...] = ()
    #: properties naming tags the widget shows, comma separated
    lists: tuple[str, ...] = ()
    #: properties naming a tag the widget writes
    writes: tuple[str, ...] = ()
    #: (screen property, macros property) of a widget that opens a screen
    opens: tuple[str, str] | None = None


_SHOWS = WidgetKind(reads=("tag",))
_EQUIPMENT = WidgetKind(reads=("tag", "faultTag"), opens=("faceplate", "macros"))
_WRITES = WidgetKind(writes=("tag",))

#: our widgets (hmi.widgets), by class name; tests/qt keep this in step with the registry
WIDGET_KINDS: Mapping[str, WidgetKind] = {
    "ValueLabel": _SHOWS,
    "Gauge": _SHOWS,
    "AnalogIndicator": _SHOWS,
    "Tank": _SHOWS,
    "StateIndicator": _SHOWS,
    "Valve": _EQUIPMENT,
    "Pump": _EQUIPMENT,
    "Motor": _EQUIPMENT,
    "Heater": _EQUIPMENT,
    "CommandButton": _WRITES,
    "SetpointEntry": _WRITES,
    "Trend": WidgetKind(lists=("tags",)),
    "NavigationButton": WidgetKind(opens=("target", "macros")),
    "AlarmBanner": WidgetKind(),
    "AlarmList": WidgetKind(),
}
#: stock Qt widgets a dynamic ``tag`` property binds (hmi.qt.stock), and what they do
STOCK_KINDS: Mapping[str, WidgetKind] = {
    **dict.fromkeys(
        ("QLabel", "QProgressBar", "QSlider", "QDial", "QScrollBar", "QLCDNumber"), _SHOWS
    ),
    **dict.fromkeys(("QCheckBox", "QPushButton", "QCommandLinkButton"), _WRITES),
}


@dataclass(frozen=True, slots=True)
class ScreenSpec:
    """One screen as the application will show it."""

    name: str
    file: Path
    #: the macros its entry gives (the project's ``macros:``, or a built-in's defaults)
    macros: Mapping[str, str] = field(default_factory=dict)
    #: a file of the application, not of the project (findings are notes)
    builtin: bool = False
    #: opened as a popup whatever its macros (the built-in faceplates say so)
    faceplate: bool | None = None


@dataclass(slots=True)
class UiWidget:
    """A ``<widget>`` of a ``.ui`` file: class, name, line and simple properties."""

    cls: str
    name: str
    line: int
    properties: dict[str, str] = field(default_factory=dict)
    #: properties Designer marks dynamic (``stdset="0"``: set with setProperty, not a
    #: declared Qt property; how a stock widget gets its ``tag``)
    dynamic: set[str] = field(default_factory=set)


@dataclass(slots=True)
class UiFile:
    """A parsed ``.ui`` file."""

    path: Path
    widgets: list[UiWidget]
    macros: set[str]


class UiSyntaxError(ValueError):
    """A ``.ui`` file that is not XML; ``line`` is where the parser stopped."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class ScreenCheckError(FileErrors):
    """Screens with problems; ``errors`` lists every one."""

    what = "screens"


@dataclass(slots=True)
class ScreenReport:
    """What checking the screens found: errors (exit 1) and notes (for information)."""

    errors: list[ConfigError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: how many screens were read
    screens: int = 0


def parse_ui(text: str, path: Path) -> UiFile:
    """The widgets of ``.ui`` XML ``text`` with their lines (:class:`UiSyntaxError`)."""
    widgets: list[UiWidget] = []
    open_elements: list[str] = []  # widget / layout / other, innermost last
    stack: list[UiWidget] = []
    prop: list[str | None] = [None]
    text_parts: list[str] = []
    parser = expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        line = parser.CurrentLineNumber
        if tag == "widget":
            widget = UiWidget(attrs.get("class", ""), attrs.get("name", ""), line)
            widgets.append(widget)
            stack.append(widget)
        elif tag == "property" and open_elements and open_elements[-1] == "widget":
            prop[0] = attrs.get("name")
            text_parts.clear()
            if attrs.get("stdset") == "0" and stack and prop[0] is not None:
                stack[-1].dynamic.add(prop[0])
        # Each element records the container it is in: a property of a layout is not one
        # of a widget.
        inside = open_elements[-1] if open_elements else tag
        open_elements.append(tag if tag in ("widget", "layout") else inside)

    def end(tag: str) -> None:
        open_elements.pop()
        in_widget = not open_elements or open_elements[-1] == "widget"
        if tag == "widget":
            stack.pop()
        elif tag == "property" and prop[0] is not None and stack and in_widget:
            stack[-1].properties[prop[0]] = "".join(text_parts).strip()
            prop[0] = None

    def chars(data: str) -> None:
        if prop[0] is not None:
            text_parts.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        message = f"not valid XML: {expat.errors.messages[exc.code]}"
        raise UiSyntaxError(exc.lineno, message) from None
    return UiFile(path, widgets, set(_MACRO.findall(text)))


def parse_macros(text: str) -> dict[str, str]:
    """``"DEV=area1/p101, NAME=P-101"`` -> ``{"DEV": "area1/p101", "NAME": "P-101"}``
    (the syntax of the ``macros`` property, as hmi.widgets reads it)."""
    macros = {}
    for part in text.replace(";", ",").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            macros[key.strip()] = value.strip()
    return macros


def substitute(text: str, macros: Mapping[str, str]) -> str:
    """``text`` with the macros it uses that ``macros`` defines replaced."""
    return _MACRO.sub(lambda m: macros.get(m.group(1), m.group(0)), text)


def check_screens(project: Project, screens: Sequence[ScreenSpec]) -> ScreenReport:
    """Check ``screens`` against ``project``'s tags; every finding at once."""
    return _Checker(project, screens, project.start_screen).run()


@dataclass(frozen=True, slots=True)
class _Context:
    """The macros one screen is checked with, and who opens it with them."""

    macros: Mapping[str, str]
    #: where the screen is opened from (file:line), "" for its own entry
    opener: str = ""
    #: the opener's file and line, for errors in files the engineer cannot edit
    at: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a tag name was found: screen, file, widget and property."""

    spec: ScreenSpec
    ui: UiFile
    widget: UiWidget
    prop: str


class _Checker:
    def __init__(
        self, project: Project, screens: Sequence[ScreenSpec], start_screen: str = ""
    ) -> None:
        self.project = project
        self.screens = {spec.name: spec for spec in screens}
        self.start_screen = start_screen
        self.files: dict[str, UiFile] = {}
        #: screens some widget names as its target (whatever the macros it gives)
        self._named: set[str] = set()
        self.report = ScreenReport()
        self._seen: set[tuple[str, int, str, str]] = set()
        self._builtin_notes: list[str] = []

    def run(self) -> ScreenReport:
        for spec in self.screens.values():
            ui = self._read(spec)
            if ui is not None:
                self.files[spec.name] = ui
        self.report.screens = len(self.files)
        contexts: dict[str, list[_Context]] = {name: [] for name in self.files}
        for name in self.files:
            spec = self.screens[name]
            if self._is_page(name):
                contexts[name].append(_Context(dict(spec.macros)))
        # Openers pass their macros on, faceplate to faceplate: each screen is checked
        # with every set of macros it gets, until no new set appears.
        done = dict.fromkeys(self.files, 0)
        while any(done[name] < len(contexts[name]) for name in self.files):
            if sum(len(c) for c in contexts.values()) > _MOST_CONTEXTS:
                break  # a pathological chain: what was found so far is reported
            for name, ui in self.files.items():
                for context in contexts[name][done[name] :]:
                    done[name] += 1
                    self._check_openers(name, ui, context, contexts)
        self._check_home()
        for name, ui in self.files.items():
            self._check_unreachable(name, ui)
            self._check_properties(name, ui)
            if not contexts[name]:
                # Opened by nobody: its own macros (what resolves is still checked).
                contexts[name].append(_Context(dict(self.screens[name].macros)))
                self._check_openers(name, ui, contexts[name][0], contexts)
            for context in contexts[name]:
                self._check_tags(name, ui, context)
        if self._builtin_notes:
            count = len(self._builtin_notes)
            sample = "; ".join(self._builtin_notes[:3])
            self.report.notes.append(
                f"the built-in screens have {count} problem(s) with this project's tags "
                f"(e.g. {sample}): they would show BAD values; add `builtin_screens: false` "
                "to the project to drop them"
            )
        self.report.errors.sort(key=lambda e: (e.file, e.line, e.field))
        return self.report

    # -- reading ---------------------------------------------------------------------------
    def _read(self, spec: ScreenSpec) -> UiFile | None:
        # The project file's own care: a regular file of at most 10 MB, read without
        # blocking (a FIFO, /dev/zero), UTF-8 with the line of a bad byte.
        try:
            text = read_source(spec.file)
        except SourceError as exc:
            error = exc.error
            self._error(spec.builtin, error.file, error.line, error.field, error.message)
            return None
        try:
            return parse_ui(text, spec.file)
        except UiSyntaxError as exc:
            self._error(spec.builtin, str(spec.file), exc.line, "(file)", str(exc))
            return None

    def _is_faceplate(self, name: str) -> bool:
        spec = self.screens[name]
        if spec.faceplate is not None:
            return spec.faceplate
        return bool(self.files[name].macros - spec.macros.keys())

    def _is_page(self, name: str) -> bool:
        """Shown with its entry's macros alone: a screen of the navigation bar."""
        return not self._is_faceplate(name)

    def _check_home(self) -> None:
        # The application opens on another screen when start_screen is a faceplate of the
        # project (hmi.screens.catalog): nobody gave it the macros it needs.
        home = self.start_screen
        spec = self.screens.get(home)
        if spec is None or spec.builtin or home not in self.files or self._is_page(home):
            return
        pages = [n for n, s in self.screens.items() if n in self.files and self._is_page(n)]
        builtin = [n for n in pages if self.screens[n].builtin]
        fallback = next(iter(builtin or pages), "")
        missing = ", ".join(sorted(self.files[home].macros - spec.macros.keys()))
        instead = f"the application opens on {fallback!r} instead" if fallback else "no screen"
        self.report.notes.append(
            f"screen {home!r} cannot be shown first: it is a faceplate (its entry does not "
            f"give {missing}); {instead}. Name a screen of the navigation bar in "
            "`start_screen:`, or list that one first"
        )

    def _check_unreachable(self, name: str, ui: UiFile) -> None:
        # A macro the entry does not give makes a screen a faceplate: no navigation button,
        # shown only when a widget opens it. With a misspelt macro (${FLWO}) the engineer's
        # screen would silently lose its button; say so where the macro is used.
        spec = self.screens[name]
        if spec.builtin or name in self._named:
            return  # a built-in faceplate unused by a project's own overview is no mistake
        if self._is_page(name):
            return
        missing = sorted(ui.macros - spec.macros.keys())
        self._error(
            spec.builtin,
            str(ui.path),
            _first_use(ui, missing),
            name,
            f"screen {name!r} uses macro(s) {', '.join(missing)} that its entry does not "
            "give, and no NavigationButton or equipment opens it: it has no navigation "
            "button and can never be shown; give them in its entry's `macros:`, or open it "
            "from a widget that gives them",
        )

    # -- properties --------------------------------------------------------------------------
    def _check_properties(self, name: str, ui: UiFile) -> None:
        """Our widgets' properties exist: Qt ignores one it does not know (a hand-edited
        ``chrs`` for ``chars``), and the screen silently shows something else."""
        builtin = self.screens[name].builtin
        for widget in ui.widgets:
            known = properties_of(widget.cls)
            if known is None:
                continue
            for prop in widget.properties:
                if prop not in known and prop not in widget.dynamic:
                    self._error(
                        builtin,
                        str(ui.path),
                        widget.line,
                        f"{widget.name}.{prop}",
                        f"{widget.cls} has no property {prop!r}{_suggest(prop, known)}",
                    )

    # -- openers -----------------------------------------------------------------------------
    def _check_openers(
        self, name: str, ui: UiFile, context: _Context, contexts: dict[str, list[_Context]]
    ) -> None:
        spec = self.screens[name]
        for widget in ui.widgets:
            kind = WIDGET_KINDS.get(widget.cls)
            if kind is None or kind.opens is None:
                continue
            screen_prop, macros_prop = kind.opens
            target = substitute(widget.properties.get(screen_prop, ""), context.macros).strip()
            if not target:
                continue
            field_name = f"{widget.name}.{screen_prop}"
            where = (str(ui.path), widget.line)
            if target not in self.screens:
                hint = _suggest(target, self.screens)
                self._error(spec.builtin, *where, field_name, f"unknown screen {target!r}{hint}")
                continue
            self._named.add(target)
            if target not in self.files:
                continue
            given_text = substitute(widget.properties.get(macros_prop, ""), context.macros)
            given = parse_macros(given_text)
            unresolved = sorted(set(_MACRO.findall(given_text)))
            if unresolved:
                continue  # a faceplate passing on macros it was not given: checked there
            target_spec = self.screens[target]
            uses = self.files[target].macros
            merged = {**target_spec.macros, **given}
            extra = sorted(given.keys() - uses)
            field_macros = f"{widget.name}.{macros_prop}"
            if extra:
                self._error(
                    spec.builtin,
                    *where,
                    field_macros,
                    f"unknown macro(s) {', '.join(extra)} for screen {target!r} "
                    f"(it uses {', '.join(sorted(uses)) or 'none'})",
                )
            missing = sorted(uses - merged.keys())
            if missing:
                self._error(
                    spec.builtin,
                    *where,
                    field_macros,
                    f"screen {target!r} needs macro(s) {', '.join(missing)}: "
                    f"give them here, e.g. {missing[0]}=...",
                )
                continue
            opener = f"{ui.path.name}:{widget.line}"
            new = _Context(merged, opener, where if not spec.builtin else None)
            if new not in contexts[target]:
                contexts[target].append(new)

    # -- tags --------------------------------------------------------------------------------
    def _check_tags(self, name: str, ui: UiFile, context: _Context) -> None:
        spec = self.screens[name]
        for widget in ui.widgets:
            kind = WIDGET_KINDS.get(widget.cls) or STOCK_KINDS.get(widget.cls)
            if kind is None:
                if widget.properties.get("tag"):
                    bindable = ", ".join(sorted(STOCK_KINDS))
                    self._error(
                        spec.builtin,
                        str(ui.path),
                        widget.line,
                        f"{widget.name}.tag",
                        f"a {widget.cls} cannot show a tag (bound stock widgets: {bindable})",
                    )
                continue
            for prop_name, names, writes in self._bindings(widget, kind):
                place = _Place(spec, ui, widget, prop_name)
                for raw in names:
                    self._check_tag(place, raw, writes, context)

    @staticmethod
    def _bindings(widget: UiWidget, kind: WidgetKind) -> Iterable[tuple[str, list[str], bool]]:
        props = widget.properties
        for prop_name in kind.reads:
            yield prop_name, [props.get(prop_name, "")], False
        for prop_name in kind.writes:
            yield prop_name, [props.get(prop_name, "")], True
        for prop_name in kind.lists:
            yield prop_name, props.get(prop_name, "").split(","), False

    def _check_tag(self, place: _Place, raw: str, writes: bool, context: _Context) -> None:
        spec, ui, widget = place.spec, place.ui, place.widget
        raw = raw.strip()
        if not raw:
            return
        name = substitute(raw, context.macros)
        field_name = f"{widget.name}.{place.prop}"
        via = ""
        if context.opener:
            via = f" (opened from {context.opener} with {_show(context.macros)})"
        if _MACRO.search(name):
            if self._is_page(spec.name):
                missing = ", ".join(sorted(set(_MACRO.findall(name))))
                self._error(
                    spec.builtin,
                    str(ui.path),
                    widget.line,
                    field_name,
                    f"undefined macro(s) {missing} in {raw!r}: define them in the screen's macros",
                )
            return
        tag = self.project.tags.get(name)
        message = ""
        if tag is None:
            message = f"unknown tag {name!r}{_suggest(name, self.project.tags)}"
        elif writes:
            message = _why_not_writable(tag)
        if not message:
            return
        file, line = str(ui.path), widget.line
        builtin = spec.builtin
        if builtin and context.at is not None:
            # A built-in faceplate opened by a project screen: the project's mistake, shown
            # where the engineer can fix it.
            file, line = context.at
            builtin = False
            field_name = f"{context.opener.split(':')[0]} opens {spec.name}: {field_name}"
        self._error(builtin, file, line, field_name, message + via)

    def _error(self, builtin: bool, file: str, line: int, field_name: str, message: str) -> None:
        key = (file, line, field_name, message)
        if key in self._seen:
            return
        self._seen.add(key)
        if builtin:
            self._builtin_notes.append(f"{Path(file).name}:{line}: {field_name}: {message}")
        else:
            self.report.errors.append(ConfigError(file, line, field_name, message))


def _why_not_writable(tag: Tag) -> str:
    """Why no one may write ``tag`` from a screen, or ``""``."""
    if tag.expression is not None:
        return f"{tag.name!r} is computed (expression): a write widget cannot set it"
    if tag.source is not None and not tag.source.address.writable:
        return f"{tag.name!r} is read-only: {tag.source.address} cannot be written"
    if not tag.write_roles:
        return f"{tag.name!r} has no write_roles: nobody may write it"
    return ""


def _first_use(ui: UiFile, macros: Sequence[str]) -> int:
    """The line of the first widget whose properties use one of ``macros`` (else 1)."""
    marks = [f"${{{macro}}}" for macro in macros]
    for widget in ui.widgets:
        if any(mark in value for value in widget.properties.values() for mark in marks):
            return widget.line
    return 1


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _show(macros: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(macros.items()))
