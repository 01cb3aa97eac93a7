"""A Trend opened after the historian recorded an hour shows that hour, comm loss as a gap.

The backend is the application's (historian over the in-memory bus); the samples are
published on ``tag/`` as a driver publishes them; the trend asks the historian through
``context.history`` exactly as hmi/app.py wires it, on a qasync loop as in the application.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import qasync

from hmi.app import DEMO_PROJECT
from hmi.backend import Backend
from hmi.bus import Bus, encode_samples
from hmi.core import Quality, Reason, Sample, TagStore
from hmi.core.quality import GOOD
from hmi.project import load_project
from hmi.qt.context import HmiContext
from hmi.widgets import Trend

LEVEL = "area1/t101/level"


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
