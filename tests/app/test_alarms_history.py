"""The demo backend's alarm engine and historian, driven by a fault in the simulated plant."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from hmi.app import DEMO_PROJECT
from hmi.app.plant import Backend
from hmi.bus import Bus, RemoteError
from hmi.bus.wire.topics import ALARM_SEQ
from hmi.project import load_project

LEVEL = "area1/t101/level"


def test_alarm_flood_is_annunciated_acknowledged_audited_and_history_recorded(tmp_path):
    async def main() -> None:
        bus = Bus.local()
        backend = Backend(load_project(DEMO_PROJECT), bus, tmp_path, simulate=True)
        await backend.start()
        alarms: dict[str, dict[str, Any]] = {}
        seen = asyncio.Event()

        def on_alarm(topic: str, payload: Any) -> None:
            if topic == ALARM_SEQ:
                return  # the engine's count, not a transition
            alarms[payload["tag"]] = payload
            seen.set()

        bus.subscribe("alarm/#", on_alarm)
        try:
            start = time.time()
            await bus.call("sim", "inject", "alarm_flood")
            async with asyncio.timeout(5):
                while LEVEL not in alarms or alarms[LEVEL]["state"] == "normal":
                    seen.clear()
                    await seen.wait()
            assert alarms[LEVEL]["state"] == "unacknowledged"

            viewer = await bus.call("security", "login", "viewer", "demo-viewer")
            with pytest.raises(RemoteError, match="viewer may not"):
                await bus.call("alarms", "acknowledge", [LEVEL], token=viewer["token"])
            operator = await bus.call("security", "login", "operator", "demo-operator")
            result = await bus.call("alarms", "acknowledge", [LEVEL], token=operator["token"])
            assert result == [{"tag": LEVEL, "ok": True, "error": ""}]
            async with asyncio.timeout(5):
                while alarms[LEVEL]["state"] != "acknowledged":
                    seen.clear()
                    await seen.wait()

            await bus.call("historian", "flush")
            series = await bus.call("historian", "raw", LEVEL, start - 1, time.time() + 1)
            assert series, series
            assert backend.audit is not None
            assert any(r.user == "operator" and r.target == LEVEL for r in backend.audit.query())
        finally:
            await backend.stop()
            await bus.close()

    asyncio.run(main())
