"""Trend: several tags against their source time, live-scrolling or paused for a look back."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Property, QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from hmi.core.quality import Severity
from hmi.core.sample import Sample
from hmi.qt.context import HmiContext
from hmi.qt.link import TagLink
from hmi.qt.look import describe_sample
from hmi.qt.registry import register_widget
from hmi.widgets.trend_buffer import FloatArray, RingBuffer

#: muted, distinguishable pens for a grey background (colour is for alarms)
PENS = ("#0d2b45", "#7a4b00", "#2f6b3a", "#6b2d8f", "#8a1c1c", "#3d5a80")

#: ``provider(tag, start, end) -> (times, values)``: history for a time range
HistoryProvider = Callable[[str, float, float], tuple[FloatArray, FloatArray]]


@register_widget(
    "Trend of several tags (source time, peak downsampling, pause, cursor)", width=480, height=260
)
class Trend(QWidget):
    """Curves of the tags in ``tags`` (comma separated) over the last ``span`` seconds.

    Every sample is kept (the store's per-tag watch, not the coalesced frame) in a ring
    buffer per tag and plotted at its *source* time; curves are redrawn at most once per
    repaint frame, peak-downsampled and clipped to the view so a week of 10 Hz data
    draws as fast as a minute. BAD samples break the line rather than drawing a lie.
    Pause stops the scrolling (panning pauses too); the cursor line reads out every
    pen at its time. History arrives through :meth:`set_history_provider` or
    :meth:`backfill`.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tags: list[str] = []
        self._span = 600.0
        self._capacity = 36_000
        self._buffers: dict[str, RingBuffer] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._unwatch: list[Callable[[], None]] = []
        self._dirty = False
        self._live = True
        self._scrolled = 0.0
        self._history: HistoryProvider | None = None
        self.clock: Callable[[], float] = time.time
        self.tag_link = TagLink(
            self, lambda: list(self._tags), self._on_sample, None, self._on_attach
        )

        self.plot = pg.PlotWidget(
            self, axisItems={"bottom": pg.DateAxisItem()}, background="#e4e4e4"
        )
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        for axis in ("left", "bottom"):
            item.getAxis(axis).setPen(pg.mkPen("#3a3a3a"))
            item.getAxis(axis).setTextPen(pg.mkPen("#1a1a1a"))
        self.legend = item.addLegend(offset=(8, 8), labelTextColor="#1a1a1a")
        self.cursor_line = pg.InfiniteLine(
            angle=90, movable=True, pen=pg.mkPen("#3a3a3a", style=Qt.PenStyle.DashLine)
        )
        self.cursor_line.setVisible(False)
        item.addItem(self.cursor_line, ignoreBounds=True)
        self.cursor_line.sigPositionChanged.connect(self._update_readout)
        item.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)

        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.cursor_button = QPushButton("Cursor", self)
        self.cursor_button.setCheckable(True)
        self.cursor_button.toggled.connect(self._on_cursor_toggled)
        self.readout = QLabel("", self)
        self.readout.setObjectName("TrendReadout")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.pause_button)
        bar.addWidget(self.cursor_button)
        bar.addWidget(self.readout, 1)
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
        for name in list(self._curves):
            if name not in self._tags:
                self.plot.getPlotItem().removeItem(self._curves.pop(name))
                self._buffers.pop(name, None)
        for index, name in enumerate(self._tags):
            if name not in self._curves:
                self._buffers[name] = RingBuffer(self._capacity)
                pen = pg.mkPen(PENS[index % len(PENS)], width=2)
                curve = self.plot.plot(name=name, pen=pen, connect="finite")
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                self._curves[name] = curve
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
        self._buffers = {name: RingBuffer(self._capacity) for name in self._tags}

    tags = Property(str, _get_tags, _set_tags, doc="tags plotted, comma separated")
    span = Property(float, _get_span, _set_span, doc="seconds shown while live")
    capacity = Property(int, _get_capacity, _set_capacity, doc="points kept per tag")

    def sizeHint(self) -> QSize:
        """A comfortable default; trends stretch with their layout."""
        return QSize(480, 260)

    # -- data ----------------------------------------------------------------------------
    def buffer(self, name: str) -> RingBuffer:
        """The points held for ``name``."""
        return self._buffers[name]

    def _on_attach(self, context: HmiContext | None) -> None:
        for unwatch in self._unwatch:
            unwatch()
        self._unwatch = []
        if context is None:
            return
        self.clock = context.clock
        for name in self._tags:
            self._unwatch.append(context.store.watch(name, self._on_every_sample))
        context.binder.add_frame_hook(self, self._on_frame)
        if self._history is not None:
            self._request_history()

    def _on_every_sample(self, name: str, sample: Sample) -> None:
        buffer = self._buffers.get(name)
        if buffer is None:
            return
        value = sample.value
        if value is None or isinstance(value, str) or sample.quality.severity is Severity.BAD:
            number = math.nan  # a gap: the line does not pretend to know
        else:
            number = float(value)
        buffer.append(sample.source_time or sample.receive_time, number)
        self._dirty = True

    def _on_sample(self, name: str, sample: Sample) -> None:
        # Coalesced: only the tooltip (quality of the newest sample) needs it.
        self.setToolTip(
            "\n\n".join(
                describe_sample(n, self.tag_link.tag(n), self.tag_link.sample(n))
                for n in self._tags
            )
        )

    def set_history_provider(self, provider: HistoryProvider | None) -> None:
        """Fetch history through ``provider`` when bound (the historian plugs in here)."""
        self._history = provider
        if provider is not None and self.tag_link.attached:
            self._request_history()

    def _request_history(self) -> None:
        assert self._history is not None
        end = self.clock()
        for name in self._tags:
            buffer = self._buffers[name]
            oldest = float(buffer.times[0]) if len(buffer) else end
            times, values = self._history(name, end - self._span, oldest)
            self.backfill(name, times, values)

    def backfill(self, name: str, times: FloatArray, values: FloatArray) -> None:
        """Merge history points of ``name`` before (or among) the live ones."""
        if name in self._buffers and len(times):
            self._buffers[name].merge(np.asarray(times, float), np.asarray(values, float))
            self._dirty = True
            self.redraw()

    # -- drawing -------------------------------------------------------------------------
    def _on_frame(self) -> None:
        if self._dirty and self.isVisible():
            self.redraw()
        elif self._live and self.isVisible():
            self._scroll(force=False)

    def redraw(self) -> None:
        """Hand the buffers to the curves and scroll (when live)."""
        self._dirty = False
        for name, curve in self._curves.items():
            buffer = self._buffers[name]
            # Copies: the views would change under pyqtgraph as the ring wraps.
            curve.setData(buffer.times.copy(), buffer.values.copy())
        self._scroll()
        self._update_readout()

    def _scroll(self, force: bool = True) -> None:
        if not self._live:
            return
        now = self.clock()
        # Idle frames scroll only once time has moved a pixel: no redraw for nothing.
        if force or now - self._scrolled >= self._span / max(1, self.plot.width()):
            self._scrolled = now
            self.plot.getPlotItem().setXRange(now - self._span, now, padding=0)

    @property
    def live(self) -> bool:
        """True while the trend scrolls with time."""
        return self._live

    def pause(self, paused: bool = True) -> None:
        """Stop (or resume) scrolling; paused, the operator can pan and zoom."""
        self.pause_button.setChecked(paused)

    def _on_pause_toggled(self, paused: bool) -> None:
        self._live = not paused
        self.pause_button.setText("Live" if paused else "Pause")
        if self._live:
            self.redraw()

    def _on_manual_range(self, *_: object) -> None:
        if self._live:
            self.pause(True)

    def _on_cursor_toggled(self, shown: bool) -> None:
        if shown:
            (x0, x1), _ = self.plot.getPlotItem().getViewBox().viewRange()
            self.cursor_line.setValue((x0 + x1) / 2)
        self.cursor_line.setVisible(shown)
        self._update_readout()

    def set_cursor(self, t: float) -> None:
        """Show the cursor at time ``t`` and read out every pen there."""
        self.cursor_button.setChecked(True)
        self.cursor_line.setValue(t)

    def readout_text(self) -> str:
        """``12:03:44  area1/t101/level = 2.41 | ...`` at the cursor, ``""`` when hidden."""
        if not self.cursor_line.isVisible():
            return ""
        t = float(self.cursor_line.value())
        parts = []
        for name in self._tags:
            value = self._buffers[name].value_at(t)
            shown = "----" if value is None or math.isnan(value) else f"{value:.4g}"
            parts.append(f"{name} = {shown}")
        return time.strftime("%H:%M:%S", time.localtime(t)) + "  " + " | ".join(parts)

    def _update_readout(self, *_: object) -> None:
        self.readout.setText(self.readout_text())
