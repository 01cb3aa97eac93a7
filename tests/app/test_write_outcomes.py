"""Against the real simulated plant, through the whole application path (issue 14, items 1,
2 and 6): faceplates on a station, commands on the bus, the driver's closed-loop writes to
the simulator's PLC over Modbus/TCP, results back, the audit trail.

- Enter in LIC-101's setpoint field sends exactly one command (the setpoint).
- With LIC-101 in AUTO, FV-101's Open is overridden by the PLC: the faceplate says
  "Overridden by device: reads ...", the command field shows the device's value (not the
  100.0 written), and the audit row says "overridden" with the same words.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from hmi.app import DEMO_PROJECT
from hmi.app.plant import Backend
from hmi.bus import Bus, bind_store
from hmi.bus.wire.messages import decode_command, decode_result, encode_command
from hmi.core import Command, CommandState, TagStore
from hmi.project import load_project
from hmi.qt.context import HmiContext
from hmi.screens.shell import MainWindow
from hmi.widgets import CommandButton, SetpointEntry

SP, AUTO, VALVE = "area1/lic101/sp", "area1/lic101/auto", "area1/fv101/command"
LIC = {"LOOP": "area1/lic101", "PV": "area1/t101/level", "NAME": "LIC-101"}
FV = {"DEV": "area1/fv101", "NAME": "FV-101"}


async def until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        await asyncio.sleep(0.05)


def test_enter_writes_one_setpoint_and_an_override_is_shown_and_audited(qapp, qtbot, tmp_path):
    project = load_project(DEMO_PROJECT)

    async def main() -> None:
        bus = Bus.local()
        backend = Backend(project, bus, tmp_path, simulate=True)  # LIC-101 in AUTO
        await backend.start()
        try:
            await station(bus)
        finally:
            await backend.stop()
            await bus.close()

    async def station(bus: Bus) -> None:
        # The station as hmi/app/gui.py wires it: commands signed with the session token.
        store = TagStore(project.tags.values())
        session: dict[str, str] = {}

        def sink(command: Command) -> None:
            signed = dataclasses.replace(command, token=session["token"])
            bus.publish(f"cmd/{command.tag}", encode_command(signed))

        context = HmiContext(store, node="station-1", sink=sink, grants=project.grants)
        bind_store(bus, store, "tag/#")
        bus.subscribe("result/#", lambda topic, payload: context.deliver(decode_result(payload)))
        sent: list[Command] = []
        bus.subscribe("cmd/#", lambda topic, payload: sent.append(decode_command(payload)))
        info = await bus.call("security", "login", "operator", "demo-operator", node="station-1")
        session["token"] = info["token"]
        context.log_in(info["user"], frozenset(info["roles"]))
        window = MainWindow(project, store, context)
        qtbot.addWidget(window)
        window.resize(1920, 1080)
        window.show()
        await until(lambda: store.get(VALVE).value is not None, "the first values")

        # -- Enter in the setpoint field: one command, the mode untouched ----------------
        lic = window.navigator.open_popup("pid", LIC)
        assert lic is not None
        sp = next(e for e in lic.view.form.findChildren(SetpointEntry) if e.tag == SP)
        level = store.get("area1/t101/level").value
        target = f"{round(level, 2):.2f}"  # at the level: the controller's output drops
        sp.editor.setFocus()
        sp.editor.selectAll()
        QTest.keyClicks(sp.editor, target)
        QTest.keyClick(sp.editor, Qt.Key.Key_Return)
        await until(lambda: sp.status.state is CommandState.CONFIRMED, "the setpoint confirmed")
        assert [(c.tag, c.value) for c in sent] == [(SP, float(target))]
        assert sp.status_line.text == f"{target} m confirmed"
        assert store.get(AUTO).value is True

        # -- FV-101 Open while LIC-101 is in AUTO: overridden by the PLC ------------------
        await until(lambda: store.get(VALVE).value < 50.0, "the controller closing FV-101")
        valve = window.navigator.open_popup("valve", FV)
        assert valve is not None
        form = valve.view.form
        open_button = next(b for b in form.findChildren(CommandButton) if b.text() == "Open")
        command_field = next(e for e in form.findChildren(SetpointEntry) if e.tag == VALVE)
        open_button.auto_confirm = True  # "Open FV-101 fully?" - yes
        open_button.click()
        assert open_button.status_line.text == "Open sent, waiting for the plant"
        await until(lambda: open_button.status.state is CommandState.OVERRIDDEN, "the result")
        line = open_button.status_line.text
        assert line.startswith("Overridden by device: reads ") and line.endswith(" %")
        # The field shows the device's value, never the 100.0 written.
        await asyncio.sleep(0.2)  # a repaint frame
        shown = float(command_field.editor.text())
        assert shown < 50.0
        assert abs(shown - store.get(VALVE).value) < 5.0

        # -- the audit trail, as an engineer reads it ------------------------------------
        engineer = await bus.call("security", "login", "engineer", "demo-engineer")
        rows: list[dict[str, Any]] = await bus.call("audit", "recent", 100, token=engineer["token"])
        writes = [r for r in rows if r["action"] == "write"]
        assert [(r["target"], r["outcome"]) for r in writes] == [
            (SP, "requested"),  # recorded before it was sent (fail-closed audit)
            (SP, "confirmed"),
            (VALVE, "requested"),
            (VALVE, "overridden"),
        ]
        overridden = writes[-1]
        assert overridden["reason"] == line[0].lower() + line[1:]
        assert overridden["new_value"] == 100.0 and overridden["user"] == "operator"

    loop = qasync.QEventLoop(qapp)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
