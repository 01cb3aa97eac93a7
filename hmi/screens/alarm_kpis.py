"""The alarm system's KPIs in one line of the alarm summary (ISA-18.2 section 16, EEMUA 191).

Asked from the engine's ``kpis`` RPC when the summary opens and every
:data:`REFRESH_MS` while it is shown (one request at a time; none while hidden). The line
says how many alarms annunciated in the last 10 minutes (bold past the flood threshold),
the average and the peak per 10 minutes, the chattering and standing alarms (names in the
tooltip) and the counts by state.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QLabel, QWidget

from hmi.qt.alarms import AlarmModel

#: how often the line is asked again while shown: KPIs move over minutes, not frames
REFRESH_MS = 10_000
#: EEMUA 191: about one alarm per 10 minutes is manageable, more than 10 is a flood
FLOOD = 10


class AlarmKpiLine(QLabel):
    """One line of alarm KPIs, refreshed from the engine while shown."""

    def __init__(self, alarms: AlarmModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.alarms = alarms
        self.setObjectName("AlarmKpis")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText("KPIs: not asked yet")
        self.kpis: dict[str, Any] = {}
        self._task: asyncio.Task[Any] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.ask)

    # -- following ---------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        """Ask now and every :data:`REFRESH_MS` while shown."""
        self._timer.start()
        self.ask()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        """No requests while hidden."""
        self._timer.stop()
        super().hideEvent(event)

    @property
    def refreshing(self) -> bool:
        """True while the periodic refresh runs (the line is shown)."""
        return self._timer.isActive()

    def ask(self) -> None:
        """Ask the engine once (not again while an answer is awaited)."""
        if self._task is not None and not self._task.done():
            return
        with contextlib.suppress(RuntimeError):  # no event loop (Designer): nothing to ask
            asyncio.get_running_loop()
            self._task = self.alarms.request(self.refresh())

    async def refresh(self) -> None:
        """Ask the engine's KPIs and show them (or why they are not there)."""
        try:
            kpis = await self.alarms.kpis()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.show_error(str(exc) or type(exc).__name__)
            return
        self.show_kpis(kpis)

    # -- showing -----------------------------------------------------------------------------
    def show_error(self, why: str) -> None:
        """The KPIs could not be asked: say so (the summary still works)."""
        self._bold(False)
        self.setText(f"KPIs unavailable: {why}")

    def _bold(self, bold: bool) -> None:
        font = self.font()
        if font.bold() != bold:
            font.setBold(bold)
            self.setFont(font)

    def show_kpis(self, kpis: dict[str, Any]) -> None:
        """Show the engine's ``kpis()`` answer."""
        self.kpis = dict(kpis)
        settings = self.alarms.limits.get("kpi", {})
        last = int(kpis.get("alarms_last_10min", 0))
        flood = last > int(settings.get("flood_threshold", FLOOD))
        chattering = list(kpis.get("chattering", []))
        standing = list(kpis.get("standing", []))
        parts = [
            f"Last 10 min: {last} alarm{'s' if last != 1 else ''}" + (" (FLOOD)" if flood else ""),
            f"avg {float(kpis.get('average_per_10min', 0.0)):.1f}"
            f" / peak {int(kpis.get('peak_per_10min', 0))} per 10 min",
            f"chattering {_names(chattering)}",
            f"standing {_names(standing)}",
            f"{kpis.get('annunciated', 0)} active, {kpis.get('shelved', 0)} shelved,"
            f" {kpis.get('suppressed', 0)} suppressed,"
            f" {kpis.get('out_of_service', 0)} out of service",
        ]
        self.setText("KPIs   " + "   |   ".join(parts))
        self._bold(flood)
        window = float(settings.get("chatter_window", 60.0))
        count = int(settings.get("chatter_count", 3))
        hours = float(settings.get("standing_after", 24 * 3600.0)) / 3600
        flood_share = float(kpis.get("flood_fraction", 0.0)) * 100
        self.setToolTip(
            "Alarm system performance (ISA-18.2, EEMUA 191: about 1 alarm per 10 min is"
            f" manageable, more than {FLOOD} is a flood)\n"
            f"Flood periods: {flood_share:.0f} % of 10-minute periods\n"
            f"Chattering ({count} or more in {window:g} s): {', '.join(chattering) or 'none'}\n"
            f"Standing (active over {hours:g} h): {', '.join(standing) or 'none'}"
        )


def _names(tags: list[str], shown: int = 2) -> str:
    """``0``, or the count with the first names: ``3 (a/b/c, d/e/f, +1)``."""
    if not tags:
        return "0"
    more = f", +{len(tags) - shown}" if len(tags) > shown else ""
    return f"{len(tags)} ({', '.join(tags[:shown])}{more})"
