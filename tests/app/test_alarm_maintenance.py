"""The GUI's alarm model against the real engine, in one process like ``hmi demo``: the
engine's limits, out of service by an engineer (refused to an operator), and KPIs."""

from __future__ import annotations

import asyncio

from hmi.app import DEMO_PROJECT
from hmi.app.alarms import connect_alarms, load_snapshot
from hmi.app.plant import Backend
from hmi.bus import Bus
from hmi.core.alarms import AlarmState
from hmi.project import load_project
from hmi.qt.alarms import AlarmModel

LEVEL = "area1/t101/level"


def test_engineers_take_alarms_out_of_service_and_operators_may_not(qapp, tmp_path):
    async def main() -> None:
        bus = Bus.local()
        model = AlarmModel()
        session = ["", ""]
        notices: list[str] = []
        connect_alarms(bus, model, lambda: (session[0], session[1]), notify=notices.append)
        backend = Backend(load_project(DEMO_PROJECT), bus, tmp_path, simulate=True)
        await backend.start()
        try:
            await load_snapshot(bus, model)
            # The engine's own word, not a constant of the GUI.
            assert model.max_shelve == 12 * 3600.0
            assert model.may("remove_from_service", {"operator"}) is False
            assert model.may("remove_from_service", {"engineer", "operator"}) is True

            async def log_in(user: str, password: str) -> None:
                info = await bus.call("security", "login", user, password)
                session[:] = [info["user"], info["token"]]

            await log_in("operator", "demo-operator")
            assert not await model.remove_from_service(LEVEL, "trying")
            assert "operator may not" in notices[-1]  # refused by the engine, and shown

            await log_in("engineer", "demo-engineer")
            assert await model.remove_from_service(LEVEL, "LT-101 recalibration")
            assert model.status(LEVEL).state is AlarmState.OUT_OF_SERVICE
            assert model.status(LEVEL).user == "engineer"
            assert await model.return_to_service(LEVEL, "calibrated")
            assert model.status(LEVEL).state is not AlarmState.OUT_OF_SERVICE

            kpis = await model.kpis()
            assert {"alarms_last_10min", "chattering", "standing", "out_of_service"} <= set(kpis)
            rows = await model.history(tag=LEVEL)
            assert [r["event"] for r in rows][-2:] == ["remove_from_service", "return_to_service"]
            assert rows[-2]["comment"] == "LT-101 recalibration"
        finally:
            await backend.stop()
            await bus.close()

    asyncio.run(main())
