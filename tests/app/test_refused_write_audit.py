"""A write the GUI refuses never reaches a driver, yet the audit trail records the attempt."""

from __future__ import annotations

import asyncio

from hmi.app import DEMO_PROJECT
from hmi.app.plant import Backend
from hmi.app.session import publish_refused_writes
from hmi.bus import Bus
from hmi.core.tagstore import TagStore
from hmi.project import load_project
from hmi.qt.context import HmiContext

SP = "area1/lic101/sp"


def test_a_write_refused_in_the_gui_is_audited_by_the_backend(qapp, tmp_path):
    project = load_project(DEMO_PROJECT)

    async def main() -> None:
        bus = Bus.local()
        backend = Backend(project, bus, tmp_path, drivers=False)
        await backend.start()
        context = HmiContext(
            TagStore(project.tags.values()), user="vera", roles=frozenset({"viewer"})
        )
        publish_refused_writes(bus, context, "hmi-test")
        commands: list[object] = []
        bus.subscribe("cmd/#", lambda topic, payload: commands.append(payload))
        try:
            assert context.send(SP, 9.5, screen="overview") is None
            assert commands == []  # nothing went to the plant
            assert backend.audit is not None
            rows = [r for r in backend.audit.query() if r.action == "write"]
            assert len(rows) == 1
            row = rows[0]
            assert (row.user, row.target, row.new_value, row.outcome) == (
                "vera",
                SP,
                9.5,
                "rejected",
            )
            assert "vera may not write" in row.reason and row.node == "hmi-test"
        finally:
            await backend.stop()
            await bus.close()

    asyncio.run(main())
