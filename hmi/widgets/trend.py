"""Trend: several tags against their source time, live or paused, backfilled from history.

Importing this module costs no pyqtgraph and no numpy (about a third of a second): the
plot (hmi.widgets.trend_chart) and the history requests are imported by the first Trend
built, so the widget registry, Designer and screens without trends start without them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Property, QSize, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from hmi.core.quality import Severity
from hmi.core.sample import Sample
from hmi.qt.context import HmiContext
from hmi.qt.link import TagLink
from hmi.qt.look import describe_sample
from hmi.qt.registry import register_widget

if TYPE_CHECKING:
    from hmi.widgets.trend_buffer import RingBuffer
    from hmi.widgets.trend_history import HistoryRequest
    from hmi.widgets.trend_series import HistorySegment, TagSeries

log = logging.getLogger(__name__)
#: characters of an error shown in the note (the tooltip has all of it)
NOTE_CHARS = 60


@register_widget(
    "Trend of several tags (source time, history, peak downsampling, pause, cursor, CSV)",
    width=480,
    height=260,
)
class Trend(QWidget):
    """Curves of the tags in ``tags`` (comma separated) over the last ``span`` seconds.

    Every sample is kept (the store's per-tag watch, not the coalesced frame) in a ring
    buffer per tag and plotted at its *source* time; curves are redrawn at most once per
    repaint frame, clipped to the view and decimated by time. A value holds until the next
    sample (drivers publish on change): setpoints and discrete tags are drawn as steps,
    analog values joined only between close samples. A BAD sample ends the line at its
    time; the last GOOD or UNCERTAIN value is held up to now. Each unit has its own
    stacked plot with the unit as its axis title; values read out formatted as the tag's.
    When the session has a history source (:attr:`HmiContext.history`), the trend asks it,
    without blocking, for what the view shows before its live data: on opening, and when
    the operator pans or zooms into the past; a failed request is retried a few times.
    Pause stops scrolling (panning pauses too); the cursor reads out every pen; CSV
    exports what is shown.
    """

    #: ``tag``: history for it arrived and is shown
    history_loaded = Signal(str)
    #: ``(tag, message)``: asking history for it failed (the note shows it too)
    history_failed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The heavy half, imported with the first trend built (see the module docstring).
        from hmi.widgets.trend_chart import TrendChart
        from hmi.widgets.trend_history import HistoryLoader

        self._tags: list[str] = []
        self._span = 600.0
        self._capacity = 36_000
        self._unwatch: list[Callable[[], None]] = []
        self._dirty = False
        self._live = True
        self._advanced = 0.0
        self._detached_at = -math.inf
        self.clock: Callable[[], float] = time.time
        self.tag_link = TagLink(
            self, lambda: list(self._tags), self._on_sample, None, self._on_attach
        )
        self._loader = HistoryLoader(self._on_history, self._on_history_error, clock=self._now)
        self.destroyed.connect(self._loader.cancel)

        self.chart = TrendChart(self)
        self.plot = self.chart.plot
        self.chart.cursor_moved.connect(self._update_readout)
        self.chart.x_range_changed.connect(self._ask_history)
        self.chart.resized.connect(self._ask_history)
        self.chart.range_changed_manually.connect(self._on_manual_range)
        self.chart.add_menu_action("Export visible range as CSV ...", self._on_export_clicked)

        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.cursor_button = QPushButton("Cursor", self)
        self.cursor_button.setCheckable(True)
        self.cursor_button.toggled.connect(self._on_cursor_toggled)
        self.export_button = QPushButton("CSV ...", self)
        self.export_button.setToolTip("Export what the trend shows (all pens) as CSV")
        self.export_button.clicked.connect(self._on_export_clicked)
        self.readout = QLabel("", self)
        self.readout.setObjectName("TrendReadout")
        self.note = QLabel("", self)
        self.note.setObjectName("TrendNote")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for button in (self.pause_button, self.cursor_button, self.export_button):
            bar.addWidget(button)
        bar.addWidget(self.readout, 1)
        bar.addWidget(self.note)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.plot, 1)
        layout.addLayout(bar)

    # -- properties ----------------------------------------------------------------------
    def _get_tags(self) -> str:
        return ", ".join(self._tags)

    def _set_tags(self, text: str) -> None:
        self._tags = [name.strip() for name in text.split(",") if name.strip()]
        self.chart.set_tags(self._tags, self._capacity)
        context = self.tag_link.context
        if context is not None:
            self.chart.set_definitions({n: context.store.tag(n) for n in self._tags})
        self.tag_link.refresh()

    def _get_span(self) -> float:
        return self._span

    def _set_span(self, seconds: float) -> None:
        self._span = max(1.0, seconds)
        self._dirty = True

    def _get_capacity(self) -> int:
        return self._capacity

    def _set_capacity(self, points: int) -> None:
        self._capacity = max(10, points)
        self.chart.set_capacity(self._capacity)

    tags = Property(str, _get_tags, _set_tags, doc="tags plotted, comma separated")
    span = Property(float, _get_span, _set_span, doc="seconds shown while live")
    capacity = Property(int, _get_capacity, _set_capacity, doc="live points kept per tag")

    def sizeHint(self) -> QSize:
        """A comfortable default; trends stretch with their layout."""
        return QSize(480, 260)

    def _now(self) -> float:
        # ``clock`` is the session's, replaced on attach: read it through here.
        return self.clock()

    # -- data ----------------------------------------------------------------------------
    def series(self, name: str) -> TagSeries:
        """Everything shown for ``name``: live points and the history segment."""
        return self.chart.series[name]

    def buffer(self, name: str) -> RingBuffer:
        """The live points held for ``name``."""
        return self.chart.series[name].live

    def _on_attach(self, context: HmiContext | None) -> None:
        for unwatch in self._unwatch:
            unwatch()
        self._unwatch = []
        self._loader.cancel()
        self._set_note("")
        if context is None:
            self._detached_at = self.clock()
            return
        self.clock = context.clock
        self._loader.query = context.history
        now = self.clock()
        store = context.store
        # Units (one axis each), steps or lines, formats: from the tags' definitions.
        self.chart.set_definitions({name: store.tag(name) for name in self._tags})
        for name, series in self.chart.series.items():
            # The store's sample: the value in effect since its source time (drivers
            # publish on change, so a quiet setpoint's may be old). Without it the trend
            # would draw nothing for the tag until it changes.
            current = store.get(name) if name in store else None
            if self._resume(series, current, context.history is not None):
                self._on_every_sample(name, store.get(name))
            series.live_since = now
            self._unwatch.append(store.watch(name, self._on_every_sample))
        context.binder.add_frame_hook(self, self._on_frame)
        self.redraw()
        self._ask_history()

    def _resume(self, series: TagSeries, current: Sample | None, history: bool) -> bool:
        """Prepare ``series`` for watching again; True when ``current`` is to be added.

        With history, live points held from before are dropped: samples were missed while
        detached, and history shows that stretch. Without it, a line whose tag changed
        meanwhile is held to when the trend stopped watching, then broken.
        """
        if history:
            series.live.clear()
        if current is None:
            return False
        since = current.source_time or current.receive_time
        if not len(series.live):
            return True
        last = float(series.live.times[-1])
        if since <= last:
            return False  # nothing new while detached: the line goes on
        held = series.tail(self._detached_at)
        if held is not None and self._detached_at < since:
            series.live.append(self._detached_at, held[1])
            last = self._detached_at
        series.live.append(last, math.nan)
        return True

    def _on_every_sample(self, name: str, sample: Sample) -> None:
        series = self.chart.series.get(name)
        if series is None:
            return
        value = sample.value
        when = sample.source_time or sample.receive_time
        if value is None or isinstance(value, str) or sample.quality.severity is Severity.BAD:
            number = math.nan  # a gap: the line does not pretend to know
            # A driver marks its last value BAD on comm loss (Sample.degraded): same value
            # and source time, the receive time is when it went BAD. The line is held up
            # to then, not cut at the last sample (seconds or hours before).
            when = max(when, sample.receive_time)
        else:
            number = float(value)
        series.live.append(when, number)
        self._dirty = True

    def _on_sample(self, name: str, sample: Sample) -> None:
        # Coalesced: only the tooltip (quality of the newest sample) needs it.
        self.setToolTip(
            "\n\n".join(
                describe_sample(n, self.tag_link.tag(n), self.tag_link.sample(n))
                for n in self._tags
            )
        )

    # -- history -------------------------------------------------------------------------
    def _ask_history(self, *_: object) -> None:
        """Ask for the history the view lacks (cheap when nothing is missing)."""
        if self.tag_link.context is None:
            return
        self._loader.ask(self.chart.series, *self.chart.view_range(), self.chart.pixels())
        if self._loader.busy and not self.note.text():
            self._set_note("Loading history ...")

    def _on_history(self, request: HistoryRequest, segment: HistorySegment) -> None:
        series = self.chart.series.get(request.tag)
        if series is None:
            return  # the tag was removed meanwhile
        series.history = segment
        if not self._loader.busy and not any(map(self._loader.failed, self._tags)):
            self._set_note("")
        self.redraw()
        self.history_loaded.emit(request.tag)

    def _on_history_error(self, request: HistoryRequest, error: BaseException) -> None:
        message = str(error) or type(error).__name__
        log.warning("trend: history of %s unavailable: %s", request.tag, message)
        at = self._loader.next_retry(request.tag)
        if at is None:
            then = "Pan, zoom or press Pause/Live to ask again."
        else:
            then = f"Asking again in {max(0.0, at - self.clock()):.0f} s."
        self._set_note(f"History unavailable: {message}", f"{request.tag}: {message}\n{then}")
        self.history_failed.emit(request.tag, message)

    def _set_note(self, text: str, tip: str = "") -> None:
        if len(text) > NOTE_CHARS:
            text = text[: NOTE_CHARS - 3] + "..."
        self.note.setText(text)
        self.note.setToolTip(tip)

    # -- drawing -------------------------------------------------------------------------
    def _on_frame(self) -> None:
        retry = self._loader.due()  # a failed history request's retry time has come
        if self.isVisible():
            if self._dirty:
                self.redraw()
            else:
                self._advance()
        if retry:
            self._ask_history()  # after scrolling: for what the view shows now

    def redraw(self) -> None:
        """Hand the data to the curves and scroll (when live); hold last values to now."""
        self._dirty = False
        now = self._advanced = self.clock()
        if self._live:
            self.chart.draw((now - self._span, now), now)
        else:
            self.chart.draw(None, now)
        self._update_readout()

    def _advance(self) -> None:
        """Time passed with no new sample: scroll (when live) and stretch the held tails."""
        now = self.clock()
        x0, x1 = self.chart.view_range()
        width = self._span if self._live else x1 - x0
        # Idle frames move things only once time has moved a pixel: no redraw for nothing.
        if now - self._advanced < width / self.chart.pixels():
            return
        self._advanced = now
        if self._live:
            self.chart.set_view(now - self._span, now)
        self.chart.draw_tails(now)

    @property
    def live(self) -> bool:
        """True while the trend scrolls with time."""
        return self._live

    def pause(self, paused: bool = True) -> None:
        """Stop (or resume) scrolling; paused, the operator can pan and zoom."""
        self.pause_button.setChecked(paused)

    def _on_pause_toggled(self, paused: bool) -> None:
        self._live = not paused
        self._loader.retry()  # the operator acts: a failed history request may be retried
        self.pause_button.setText("Live" if paused else "Pause")
        if self._live:
            # Live is "show me now": a pan or zoom also fixed Y, which would keep a value
            # that moved since off the plot.
            self.chart.restore_autoscale()
            self.redraw()
        self._ask_history()

    def _on_manual_range(self, *_: object) -> None:
        if self._live:
            self.pause(True)
        self._loader.retry()
        self._ask_history()

    # -- cursor and export ---------------------------------------------------------------
    def _on_cursor_toggled(self, shown: bool) -> None:
        if shown:
            x0, x1 = self.chart.view_range()
            self.chart.set_cursor((x0 + x1) / 2)
        self.chart.set_cursor_visible(shown)

    def set_cursor(self, t: float) -> None:
        """Show the cursor at time ``t`` and read out every pen there."""
        self.cursor_button.setChecked(True)
        self.chart.set_cursor(t)

    def readout_text(self) -> str:
        """``12:03:44  area1/t101/level = 2.41 m | ...`` at the cursor, ``""`` when hidden.

        Each value in its tag's format and unit; ``----`` where nothing is known (a gap).
        """
        if not self.chart.cursor_visible():
            return ""
        t = self.chart.cursor()
        parts = [
            f"{name} = {self.chart.series[name].format(value, with_unit=True)}"
            for name, value in self.chart.readout(t)
        ]
        return time.strftime("%H:%M:%S", time.localtime(t)) + "  " + " | ".join(parts)

    def _update_readout(self, *_: object) -> None:
        self.readout.setText(self.readout_text())

    def export_csv(self, path: Path | str) -> int:
        """Write what the trend shows (visible range, every pen) to ``path``; the row count."""
        return self.chart.export_csv(path)

    def _on_export_clicked(self) -> None:
        default = time.strftime("trend-%Y%m%d-%H%M%S.csv", time.localtime(self.clock()))
        path, _ = QFileDialog.getSaveFileName(
            self, "Export trend as CSV", default, "CSV files (*.csv)"
        )
        if not path:
            return
        try:
            rows = self.export_csv(path)
        except OSError as exc:
            self._set_note(f"Export failed: {exc}", str(exc))
            return
        self._set_note(f"{rows} row{'' if rows == 1 else 's'} exported", path)
