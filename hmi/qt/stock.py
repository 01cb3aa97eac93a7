"""Binding stock Qt widgets through a dynamic ``tag`` property (set in Designer).

QLabel shows the formatted value, QProgressBar / QSlider / QLCDNumber the number, QCheckBox
and a checkable QPushButton the boolean; clicking a QCheckBox or QPushButton writes. A
plain QPushButton writes its dynamic ``value`` property (default 1 / True). Signals are
blocked while the binder sets a value, so showing a value never writes it back.

A write says how it went under the button, like our write widgets do (a
:class:`~hmi.qt.status_line.StatusLine`: sent, then confirmed, rejected, failed, timed
out or overridden, with the reason); a checkable one follows the device's value again
once answered, so a refused click does not stay ticked.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QCheckBox,
    QLabel,
    QLCDNumber,
    QProgressBar,
    QPushButton,
    QWidget,
)

from hmi.core.command import CommandResult
from hmi.core.sample import Sample, Value
from hmi.qt.context import HmiContext
from hmi.qt.format import format_value
from hmi.qt.link import TagLink
from hmi.qt.look import NO_MARK, AlarmMark, QualityOverlay, describe_sample
from hmi.qt.status_line import StatusLine
from hmi.qt.write import WriteStatus


class StockBinding:
    """Keeps a stock widget showing one tag; created by :func:`bind_stock_widget`."""

    def __init__(self, widget: QWidget, name: str) -> None:
        self.widget = widget
        self.name = name
        self.overlay: QualityOverlay | None = None
        #: the last command's outcome, and the line under a button that says it
        self.status = WriteStatus()
        self._line: StatusLine | None = None
        self.link = TagLink(
            widget, lambda: [self.name], self._show, self._session, on_alarm=self._on_alarm
        )
        if isinstance(widget, QAbstractButton):
            widget.clicked.connect(self._on_clicked)

    def _show(self, name: str, sample: Sample) -> None:
        widget, value = self.widget, sample.value
        tag = self.link.tag(name)
        blocker = QSignalBlocker(widget)
        try:
            if isinstance(widget, QLabel):
                widget.setText(format_value(value, tag, with_unit=True))
            elif isinstance(widget, QProgressBar | QAbstractSlider) and _is_number(value):
                widget.setValue(round(float(value)))  # type: ignore[arg-type]
            elif isinstance(widget, QLCDNumber) and _is_number(value):
                widget.display(float(value))  # type: ignore[arg-type]
            elif isinstance(widget, QAbstractButton) and widget.isCheckable():
                widget.setChecked(bool(value))
        finally:
            blocker.unblock()
        held = self.overlay.mark if self.overlay is not None else NO_MARK
        # The engine's mark does not move with samples; only a preview judges the value.
        self._mark(
            sample, self.link.alarm_mark(self.name, sample) if self.link.local_marks else held
        )
        self._session()

    def _on_alarm(self, name: str) -> None:
        sample = self.link.sample(name)
        self._mark(sample, self.link.alarm_mark(name, sample))

    def _mark(self, sample: Sample, mark: AlarmMark) -> None:
        """Quality and the alarm mark, on an overlay made the first time it is needed."""
        if self.overlay is None and (mark.priority or not sample.quality.is_good):
            self.overlay = QualityOverlay(self.widget)
        if self.overlay is not None:
            self.overlay.set_state(sample.quality, mark)
            self.overlay.raise_()

    def _session(self) -> None:
        tip = describe_sample(self.name, self.link.tag(self.name), self.link.sample(self.name))
        if isinstance(self.widget, QAbstractButton):
            denied = self.link.write_cursor(self.name)
            if denied:
                tip += f"\nRead only: {denied}"
            if self.status.text:
                tip += f"\nLast command: {self.status.text}"
        self.widget.setToolTip(tip)

    @property
    def status_line(self) -> StatusLine:
        """The line under the button that says how its last command went."""
        if self._line is None:
            self._line = StatusLine(self.widget)
            self._line.faded.connect(self._on_faded)
        return self._line

    def _on_clicked(self, checked: bool = False) -> None:
        widget = self.widget
        assert isinstance(widget, QAbstractButton)
        if self.link.write_denied(self.name):
            if widget.isCheckable():  # undo the click: the value did not change
                blocker = QSignalBlocker(widget)
                widget.setChecked(not checked)
                blocker.unblock()
            return
        if widget.isCheckable():
            value: Value = checked
        else:
            configured = widget.property("value")
            value = True if configured is None else configured
        tag = self.link.tag(self.name)
        self.status.pending(format_value(value, tag, with_unit=True))
        self._show_status()
        if self.link.write(self.name, value, on_result=self._on_result) is None:
            self.status.clear()
            self._show_status()

    def _on_result(self, result: CommandResult) -> None:
        self.status.done(result)
        self._show_status()
        # A checkable button shows the device's value, not the click: a refused or
        # overridden write must not stay ticked.
        self._show(self.name, self.link.sample(self.name))

    def _show_status(self) -> None:
        self.status_line.show_outcome(self.status.state, self.status.line)
        self._session()

    def _on_faded(self) -> None:
        self.status.clear()
        self._session()


_BINDINGS_ATTR = "_hmi_stock_binding"


def bind_stock_widget(widget: QWidget, context: HmiContext) -> StockBinding | None:
    """Bind ``widget`` by its dynamic ``tag`` property; None when it has none or is unsupported."""
    name = widget.property("tag")
    if not name or not isinstance(
        widget, QLabel | QProgressBar | QAbstractSlider | QLCDNumber | QCheckBox | QPushButton
    ):
        return None
    binding = getattr(widget, _BINDINGS_ATTR, None)
    if not isinstance(binding, StockBinding):
        binding = StockBinding(widget, str(name))
        # The widget owns its binding: both go together.
        setattr(widget, _BINDINGS_ATTR, binding)
    binding.link.attach(context)
    return binding


def stock_binding(widget: QWidget) -> StockBinding | None:
    """The binding made by :func:`bind_stock_widget`, if any."""
    binding = getattr(widget, _BINDINGS_ATTR, None)
    return binding if isinstance(binding, StockBinding) else None


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float)  # bool is an int: a progress bar shows 0 or 1
