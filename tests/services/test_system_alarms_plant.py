"""End to end: the simulated plant stops answering, the real driver reports it on
``$sys/device/``, and the alarm engine raises ``system/plc1/comm`` until it answers again;
the historian keeps the outage (the held value UNCERTAIN, then BAD: a gap in trends)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hmi.bus import Bus, Supervisor
from hmi.bus.wire.topics import ALARM_SEQ
from hmi.core.identity import Identity, InvalidToken
from hmi.core.quality import Severity
from hmi.drivers.actor import DriverActor
from hmi.project.loader import parse_project
from hmi.services.alarm_engine import AlarmEngine
from hmi.services.historian import Historian
from hmi.testing import RunningPlant

COMM = "system/plc1/comm"
LEVEL = "area1/t101/level"
PROJECT = """\
name: system alarms end to end
poll_groups: {{fast: 0.05}}
historian: {{path: {folder}/history.sqlite}}
system_alarms: {{device_priority: 1}}
devices:
  - {{name: plc1, port: {port}, timeout: 0.2, retries: 0, reconnect_max: 0.3}}
tags:
  - {{name: area1/t101/level, type: float32, device: plc1, address: "ir:0", poll_group: fast}}
"""


async def reject(token: str) -> Identity:
    """No session is valid: this test writes nothing."""
    raise InvalidToken("no sessions in this test")


class Watch:
    """What the bus carried: the comm alarm's transitions and plc1's statuses."""

    def __init__(self, bus: Bus) -> None:
        self.transitions: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        bus.subscribe("alarm/#", self._on_alarm)
        bus.subscribe("$sys/device/plc1", self._on_status)

    def _on_alarm(self, topic: str, payload: Any) -> None:
        if topic != ALARM_SEQ and payload["tag"] == COMM:
            self.transitions.append(payload)
            self._changed.set()

    def _on_status(self, topic: str, payload: Any) -> None:
        self.statuses.append(payload)
        self._changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


def test_the_comm_alarm_follows_a_plc_that_stops_and_resumes_answering(
    plant: RunningPlant, tmp_path: Path
) -> None:
    project = parse_project(
        PROJECT.format(port=plant.port, folder=tmp_path.as_posix()), tmp_path / "p.yaml"
    )

    async def main() -> None:
        bus = Bus.local()
        watch = Watch(bus)
        async with Supervisor(bus) as sup:
            await sup.start(AlarmEngine.for_project(project))
            await sup.start(Historian.for_project(project))
            await sup.start(DriverActor(project, verify=reject))
            await watch.until(lambda: any(s.get("communicating") for s in watch.statuses))
            assert watch.transitions == []

            plant.faults().comm_loss()
            await watch.until(lambda: len(watch.transitions) >= 1)
            [raised] = watch.transitions
            assert (raised["event"], raised["state"], raised["priority"]) == (
                "activate",
                "unacknowledged",
                1,
            )
            assert raised["message"] == "plc1: no communication"
            assert isinstance(raised["value"], str) and raised["value"] not in ("", "ok")
            # The link reconnects and times out again meanwhile: the alarm does not chatter.
            count = len(watch.statuses)
            await watch.until(lambda: len(watch.statuses) >= count + 2)
            assert len(watch.transitions) == 1
            # The historian stored the held level UNCERTAIN, then BAD, in that order: a
            # trend shows the outage as a gap, not the last value held straight across.
            stored: dict[str, Any] = {}

            async def stored_bad() -> bool:  # (the watchdog's BAD follows the UNCERTAIN)
                await bus.call("historian", "flush")
                stored.update(await bus.call("historian", "raw", LEVEL, 0.0, 4e9))
                return Severity.BAD in stored["quality"]

            async with asyncio.timeout(10):
                while not await stored_bad():  # asked again at each status of plc1
                    seen = len(watch.statuses)
                    await watch.until(lambda seen=seen: len(watch.statuses) > seen)
            severities = stored["quality"]
            assert severities[0] == Severity.GOOD
            assert severities.index(Severity.UNCERTAIN) < severities.index(Severity.BAD)
            assert stored["t"] == sorted(stored["t"])

            plant.faults().clear()
            await watch.until(lambda: watch.transitions[-1]["event"] == "clear")
            assert watch.transitions[-1]["state"] == "returned_unacknowledged"
            assert watch.transitions[-1]["value"] == "ok"
            await bus.call("alarms", "acknowledge", [COMM], user="olga")
            assert watch.transitions[-1]["state"] == "normal"
        await bus.close()

    asyncio.run(main())
