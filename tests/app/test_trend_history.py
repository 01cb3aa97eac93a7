"""A Trend opened after the historian recorded an hour shows that hour, comm loss as a gap.

The backend is the application's (historian over the in-memory bus); the samples are
published on ``tag/`` as a driver publishes them; the trend asks the historian through
``context.history`` exactly as hmi/app/gui.py wires it, on a qasync loop as in the application.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import qasync

from hmi.app import DEMO_PROJECT
from hmi.app.plant import Backend
from hmi.bus import Bus, encode_samples
from hmi.core import Quality, Reason, Sample, TagStore
from hmi.core.quality import GOOD
from hmi.project import load_project
from hmi.qt.context import HmiContext
from hmi.services.history_store import HistoryStore
from hmi.widgets import Trend

LEVEL = "area1/t101/level"
SP = "area1/lic101/sp"


def level_at(i: int) -> float:
    return 1.0 + (i % 20) * 0.1


def test_a_trend_opened_after_the_historian_recorded_shows_the_past(qapp, qtbot, tmp_path):
    project = load_project(DEMO_PROJECT)
    now = time.time()
    # An hour at one sample per 10 s; 20 minutes ago the device was lost for 5 minutes.
    past = [now - 3600 + 10 * i for i in range(360)]
    lost = {t for t in past if now - 1200 <= t < now - 900}

    async def main() -> None:
        bus = Bus.local()
        backend = Backend(project, bus, tmp_path, drivers=False)
        await backend.start()
        try:
            for i, t in enumerate(past):
                quality = Quality.bad(Reason.NO_COMMUNICATION) if t in lost else GOOD
                sample = Sample(level_at(i), quality, t, t)
                bus.publish("tag/plc1", encode_samples({LEVEL: sample}))  # as a driver does
            await asyncio.sleep(0)  # the historian takes the batches
            assert await bus.call("historian", "flush") > 300

            context = HmiContext(TagStore(project.tags.values()), node="test")
            context.history = lambda *query: bus.call("historian", "buckets", *query)  # app.py
            trend = Trend()
            qtbot.addWidget(trend)
            trend.tags = LEVEL
            trend.span = 3600.0
            trend.resize(800, 300)
            trend.show()
            loaded = asyncio.get_running_loop().create_future()
            trend.history_loaded.connect(lambda tag: loaded.done() or loaded.set_result(tag))
            trend.history_failed.connect(
                lambda tag, why: loaded.done() or loaded.set_exception(AssertionError(why))
            )
            trend.tag_link.attach(context)  # the screen opens
            assert await asyncio.wait_for(loaded, 5) == LEVEL

            series = trend.series(LEVEL)
            x, y = series.history_points()
            assert x[0] < now - 3580 and x[-1] > now - 20  # the whole hour is there
            assert np.isfinite(y[x < now - 1210]).all()
            in_loss = (x > now - 1190) & (x < now - 910)
            assert in_loss.any() and np.isnan(y[in_loss]).all()  # comm loss: a gap
            trend.set_cursor(past[100] + 1)
            assert f"{LEVEL} = {level_at(100):.4g}" in trend.readout_text()
            assert trend.note.text() == ""
            trend.tag_link.detach()
        finally:
            await backend.stop()
            await bus.close()

    loop = qasync.QEventLoop(qapp)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def test_a_trend_opened_before_the_historian_is_up_gets_history_once_it_is(qapp, qtbot, tmp_path):
    """``hmi run`` opening on a trends screen: the first request fails, a retry succeeds.

    The history was recorded by an earlier run that stopped for ten minutes: that stretch
    shows as a gap, not as the setpoint's value drawn across it.
    """
    project = load_project(DEMO_PROJECT)
    now = time.time()
    stopped = (now - 1800, now - 1200)
    rows = [(SP, t, 2.5, 0) for t in np.arange(now - 3600, now - 30, 60.0)]  # max_interval
    rows = [row for row in rows if not stopped[0] < row[1] < stopped[1]]
    path = tmp_path / project.historian.path.name  # where the backend's historian keeps it
    with HistoryStore(path) as store:
        store.insert(rows)

    async def main() -> None:
        bus = Bus.local()
        clock = [now]  # the session's clock: the test moves it, no sleeping
        context = HmiContext(TagStore(project.tags.values()), node="test", clock=lambda: clock[0])
        context.binder.stop()  # frames run when the test says
        context.history = lambda *query: bus.call("historian", "buckets", *query)  # app.py
        trend = Trend()
        qtbot.addWidget(trend)
        trend.tags = SP
        trend.span = 3600.0
        trend.resize(800, 300)
        trend.show()
        events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        trend.history_loaded.connect(lambda tag: events.put_nowait(("loaded", tag)))
        trend.history_failed.connect(lambda tag, why: events.put_nowait(("failed", why)))
        trend.tag_link.attach(context)  # the screen opens: no historian yet
        assert await asyncio.wait_for(events.get(), 5) == (
            "failed",
            "LookupError: no RPC target 'historian'",
        )
        assert trend.note.text().startswith("History unavailable")
        assert "Asking again in 1 s" in trend.note.toolTip()

        backend = Backend(project, bus, tmp_path, drivers=False)
        await backend.start()  # the historian comes up
        try:
            clock[0] += 1.0
            context.binder.flush()  # the next repaint frame: the retry is due
            assert await asyncio.wait_for(events.get(), 5) == ("loaded", SP)
            assert trend.note.text() == ""
            x, y = trend.series(SP).history_points()
            assert x[0] < now - 3500 and np.isfinite(y[x < stopped[0] - 10]).all()
            in_stop = (x > stopped[0] + 10) & (x < stopped[1] - 10)
            assert not in_stop.any() and np.isnan(y[x < stopped[0] + 10][-1])  # the line ends
            assert np.isfinite(y[x > stopped[1] + 10]).all()
            trend.set_cursor(now - 1500)
            assert f"{SP} = ----" in trend.readout_text()  # nothing recorded: not known
            trend.set_cursor(now - 2000)
            assert f"{SP} = 2.5" in trend.readout_text()
            trend.tag_link.detach()
        finally:
            await backend.stop()
            await bus.close()

    loop = qasync.QEventLoop(qapp)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
