"""The design-time look of our widgets inside Qt Designer.

In Designer no plant is connected: a widget left to itself would show BAD ("waiting for
initial data"), grey-hatched, and hide the look the engineer is designing. Inside Designer
(and only there) every widget attaches on creation to a *preview session*: a store that
answers every tag with a GOOD sample, so a pump is drawn as a stopped pump, a tank half
full, a label with the tag's unit and format.

With a project (``hmi designer --project plant.yaml``, passed as ``HMI_PROJECT``) the
preview knows the project's tags: values sit in the middle of each tag's range, booleans
are false, and a widget bound to a name the project lacks is drawn UNCERTAIN ("not a tag
of the project" in its tooltip): the mistake shows while drawing, not at commissioning.
Without a project every name previews GOOD with no value (``----``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from PySide6.QtCore import QTimer

from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample, Value
from hmi.core.tag import DataType, Tag
from hmi.core.tagstore import TagStore
from hmi.qt.context import HmiContext
from hmi.qt.link import TagLink

#: the environment variable naming the project Designer previews
PROJECT_ENV = "HMI_PROJECT"
#: the name of the preview's user (roles: every role of the project): writes look allowed
PREVIEW_USER = "designer"


class _Preview:
    """The preview session of this process (one Designer, one preview)."""

    context: HmiContext | None = None
    project = ""


_state = _Preview()


def preview_value(tag: Tag) -> Value:
    """A plausible, quiet value for ``tag``: mid-range, false, or empty text."""
    if tag.data_type is DataType.BOOL:
        return False
    if tag.data_type is DataType.STRING:
        return ""
    low, high = tag.limits.low, tag.limits.high
    if low is not None and high is not None:
        middle = (low + high) / 2
    else:
        middle = low if low is not None else high if high is not None else 0.0
    if tag.data_type in (DataType.FLOAT32, DataType.FLOAT64):
        return float(middle)
    return round(middle)


class PreviewStore(TagStore):
    """A store that answers every tag: GOOD previews, UNCERTAIN for unknown names.

    A name with macros (``${DEV}/running`` in a faceplate) is not known before the screen
    is opened: it previews like the first project tag it could become (any ``*/running``),
    and is never marked (``hmi check`` checks it with the macros each opener gives).
    """

    def __init__(self, tags: Iterable[Tag] = (), *, project: str = "") -> None:
        super().__init__(tags)
        self.project = project
        self._patterns: dict[str, Tag | None] = {}

    def _like(self, name: str) -> Tag | None:
        if "${" not in name:
            return None
        if name not in self._patterns:
            pattern = re.compile(re.sub(r"\\\$\\\{[^}]*\\\}", ".+?", re.escape(name)) + "$")
            self._patterns[name] = next(
                (tag for tag_name, tag in self.tags.items() if pattern.match(tag_name)), None
            )
        return self._patterns[name]

    def tag(self, name: str) -> Tag | None:
        """The definition of ``name``; for a name with macros, of a tag it could become
        (its unit, format and range draw the preview)."""
        return super().tag(name) or self._like(name)

    def get(self, name: str) -> Sample:
        """The preview sample of ``name``."""
        tag = self.tag(name)
        if tag is not None:
            return Sample(preview_value(tag))
        if self.project and "${" not in name:
            why = Quality.uncertain(Reason.CONFIG_ERROR, f"not a tag of project {self.project}")
            return Sample(None, why)
        return Sample(None)


def enable_preview(
    tags: Iterable[Tag] = (), *, project: str = "", roles: Iterable[str] = ()
) -> None:
    """Make widgets created from now on attach to a preview session (Designer calls this)."""
    store = PreviewStore(tags, project=project)
    _state.context = HmiContext(store, user=PREVIEW_USER, roles=frozenset(roles))
    _state.project = project


def enable_preview_from_environment() -> str:
    """:func:`enable_preview` with the project named by ``HMI_PROJECT`` (if any); returns
    what is previewed, for Designer's log."""
    path = os.environ.get(PROJECT_ENV, "")
    if not path:
        enable_preview()
        return "no project: widgets preview without tags"
    from hmi.project import ProjectError, load_project

    try:
        project = load_project(path)
    except ProjectError as exc:
        enable_preview()
        return f"project not loaded, widgets preview without tags:\n{exc}"
    enable_preview(project.tags.values(), project=project.name, roles=project.roles)
    return f"previewing project {project.name!r} ({len(project.tags)} tags)"


def disable_preview() -> None:
    """Widgets created from now on stay unattached (tests)."""
    _state.context, _state.project = None, ""


def preview_context() -> HmiContext | None:
    """The preview session inside Designer, None everywhere else."""
    return _state.context


def attach_preview(link: TagLink) -> None:
    """Inside Designer, bind a new widget's link to the preview session (else nothing).

    Called from a widget's constructor: the binding waits for the event loop, when the
    widget (a subclass too) is fully built and Designer has set its properties.
    """
    context = preview_context()
    if context is None:
        return

    def attach() -> None:
        if not link.attached:
            link.attach(context)

    QTimer.singleShot(0, link.owner, attach)


def preview_tags() -> list[Tag]:
    """The tags of the previewed project (empty without one)."""
    if _state.context is None:
        return []
    return sorted(_state.context.store.tags.values(), key=lambda tag: tag.name)


def previewed_project() -> str:
    """The name of the previewed project ("" without one)."""
    return _state.project
