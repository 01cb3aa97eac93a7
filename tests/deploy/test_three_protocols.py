"""Issue 16's "done when": examples/three-protocols (a Modbus/TCP PLC, an OPC UA server and a
Sparkplug B edge node) on one screen, with the qualities an operator must be able to trust.

The peers are the real processes the example's README.md starts by hand, each on a free
port: the simulated plant (``hmi sim``), node-opcua's server (tests/peers/opcua/server.js),
Mosquitto and Eclipse Tahu's JavaScript edge node (tests/peers/sparkplug/edge.js). The
station is the application's own composition in this process (the backend of
``hmi.app.plant``, the main window of ``hmi run``), and the test reads what the widgets of
the project's one screen show: each value with its unit and GOOD quality; the OPC UA
server killed, its readout BAD and the others GOOD; the edge node killed (Mosquitto
publishes its death certificate), its readouts BAD too. Screenshots of the window at
1920x1080 are saved in the test's folder (``three-protocols-*.png``).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QTimer

from hmi.app.alarms import connect_alarms, load_snapshot
from hmi.app.links import LinkView
from hmi.app.plant import Backend
from hmi.bus import Bus, bind_store
from hmi.core import TagStore
from hmi.core.quality import Reason, Severity
from hmi.project import load_project
from hmi.qt.context import HmiContext
from hmi.qt.theme import apply_theme
from hmi.screens.shell import MainWindow
from hmi.widgets import StateIndicator, ValueLabel
from tests.deploy.processes import ROOT, Command, environment
from tests.drivers.helpers import free_port
from tests.opcua.peer import NodeOpcUaServer
from tests.sparkplug.peers import LineProcess, mosquitto, node_peer

pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "examples" / "three-protocols"
MODBUS, OPCUA, SPARKPLUG = "area1/t101/level", "area2/plc2/temperature", "siteb/plc7/temp"
MODBUS_TAGS = {MODBUS, "area1/t101/temperature", "area1/p101/running"}
OPCUA_TAGS = {OPCUA, "area2/plc2/level", "area2/plc2/running"}
SPARKPLUG_TAGS = {SPARKPLUG, "siteb/plc7/total", "siteb/plc7/ok"}
UNITS = {MODBUS: " m", OPCUA: " °C", SPARKPLUG: " °C"}


def example_in(folder: Path, *, plc: int, opcua: int, mqtt: str) -> Path:
    """The example copied to ``folder`` with the run's ports in place of its own."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("data"))
    project = folder / "plant.yaml"
    text = project.read_text(encoding="utf-8")
    for old, new in (
        ("port: 5020", f"port: {plc}"),
        ("opc.tcp://127.0.0.1:4840/", f"opc.tcp://127.0.0.1:{opcua}/"),
        ("mqtt://127.0.0.1:1883", mqtt),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    project.write_text(text, encoding="utf-8")
    return project


async def until(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    """Wait for the screen to show ``condition`` (widgets repaint on a timer: polled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.05)


@pytest.mark.timeout(180)
def test_one_screen_shows_modbus_opcua_and_sparkplug_with_their_qualities(
    qapp: Any, qtbot: Any, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    plc_port = free_port()
    sim = Command(
        "sim", "sim", "--port", str(plc_port), env=environment(tmp_path), log=logs / "sim.log"
    )
    server = NodeOpcUaServer(free_port(), tmp_path / "pki", logs / "node-opcua.log")
    try:
        sim.wait_for("hmi sim:", 30)
        server.start()
        with mosquitto(tmp_path) as broker:
            edge = node_peer(
                "edge.js", broker.url, "site-b", "tahu-edge", "plc7", log=logs / "edge.log"
            )
            try:
                edge.expect(lambda line: line.get("born") == 1, timeout=30)
                project = example_in(
                    tmp_path / "three-protocols", plc=plc_port, opcua=server.port, mqtt=broker.url
                )
                assert apply_theme(qapp)
                try:
                    _run_station(qapp, qtbot, project, tmp_path, server, edge)
                finally:
                    qapp.setStyleSheet("")
            finally:
                edge.stop()
    finally:
        server.stop()
        sim.stop()


def _run_station(
    qapp: Any,
    qtbot: Any,
    project_file: Path,
    tmp_path: Path,
    server: NodeOpcUaServer,
    edge: LineProcess,
) -> None:
    project = load_project(project_file)

    async def main() -> None:
        bus = Bus.local()
        backend = Backend(project, bus, tmp_path / "data")
        await backend.start()
        try:
            await station(bus)
        finally:
            await backend.stop()
            await bus.close()

    async def station(bus: Bus) -> None:
        # The station as hmi/app/gui.py wires it in local mode (nobody logs in: it reads).
        store = TagStore(project.tags.values())
        context = HmiContext(store, node="station-1", sink=lambda command: None)
        bind_store(bus, store, "tag/#")
        window = MainWindow(project, store, context)
        qtbot.addWidget(window)
        connect_alarms(bus, context.alarms, lambda: ("", ""))
        snapshot = asyncio.ensure_future(load_snapshot(bus, context.alarms))
        window.links = LinkView(
            bus,
            where="local",
            show_bus=lambda text, level: window.bus_status.setText(text),
            show_devices=window.device_status.setText,
            alarms_lost=context.alarms.lost,
        )
        window.resize(1920, 1080)
        window.show()
        try:
            await watch(window, context)
        finally:
            snapshot.cancel()
            await asyncio.gather(snapshot, return_exceptions=True)
            context.binder.stop()
            await context.alarms.close()

    async def watch(window: MainWindow, context: HmiContext) -> None:
        current, view = window.navigator.current, window.navigator.current_view
        assert current is not None and current[0] == "three"  # the start screen, the only one
        assert view is not None
        labels = {str(w.tag): w for w in view.form.findChildren(ValueLabel)}
        states = {str(w.tag): w for w in view.form.findChildren(StateIndicator)}
        shown: dict[str, ValueLabel | StateIndicator] = {**states, **labels}
        assert set(shown) == MODBUS_TAGS | OPCUA_TAGS | SPARKPLUG_TAGS

        def severity(tag: str) -> Severity:
            return shown[tag].sample.quality.severity

        def devices() -> str:  # the status bar's devices
            return str(window.device_status.text()).removeprefix("Devices: ")

        def alarmed() -> set[str]:  # devices whose comm alarm is not normal
            return {
                s.tag.split("/")[1]
                for s in context.alarms.listed()
                if s.tag.startswith("system/") and s.tag.endswith("/comm")
            }

        def all_good(tags: set[str]) -> bool:
            return all(severity(t) is Severity.GOOD for t in tags)

        # -- all three protocols GOOD, values with their units -----------------------------
        everything = MODBUS_TAGS | OPCUA_TAGS | SPARKPLUG_TAGS
        await until(lambda: all_good(everything), "every readout GOOD")
        for tag, unit in UNITS.items():
            text = labels[tag].text()
            assert text.endswith(unit) and text != "----" + unit, (tag, text)
        assert labels[SPARKPLUG].text() == "21.5 °C"  # edge.js's DBIRTH: temp 21.5
        assert labels["siteb/plc7/total"].text() == "12345678901 parts"
        level, temperature = labels[MODBUS].sample.value, labels[OPCUA].sample.value
        assert isinstance(level, float) and 0.0 <= level <= 5.0
        assert isinstance(temperature, float) and 15.0 <= temperature <= 25.0  # 20 + 5 sin(t)
        assert states["area2/plc2/running"].current_state().text == "Running"
        assert states["siteb/plc7/ok"].current_state().text == "Healthy"
        await until(lambda: devices() == "plc1: OK  plc2: OK  site-b: OK", "devices OK", 10)
        await until(lambda: context.alarms.synced, "the alarm list in step with the engine")
        assert alarmed() == set()  # starting up raised no communication alarm
        assert window.alarm_banner.text() == "No active alarms"
        await grab(window, "good")

        # -- the OPC UA server gone: its readouts BAD, the others GOOD ---------------------
        server.stop()  # killed, as on a power cut
        await until(lambda: severity(OPCUA) is Severity.BAD, "the OPC UA readout BAD", 15)
        opcua = labels[OPCUA].sample
        assert opcua.quality.reason is Reason.NOT_CONNECTED, opcua.quality
        # the last value stays, marked: never blanked
        assert opcua.value is not None and labels[OPCUA].text().endswith(" °C")
        assert opcua.quality.describe() in labels[OPCUA].toolTip()
        await until(lambda: all(severity(t) is Severity.BAD for t in OPCUA_TAGS), "OPC UA BAD")
        assert all_good(MODBUS_TAGS | SPARKPLUG_TAGS)
        await until(lambda: devices() == "plc1: OK  plc2: DOWN  site-b: OK", "plc2 DOWN", 10)

        # -- the edge node killed: Mosquitto publishes its will (NDEATH) -------------------
        edge.proc.kill()
        await until(
            lambda: all(severity(t) is Severity.BAD for t in SPARKPLUG_TAGS),
            "the Sparkplug readouts BAD",
            15,
        )
        temp = labels[SPARKPLUG].sample
        assert temp.quality.reason is Reason.NO_COMMUNICATION
        assert "edge node site-b/tahu-edge dead (NDEATH)" in temp.quality.detail
        assert temp.value == 21.5
        assert labels[SPARKPLUG].text() == "21.5 °C"
        assert temp.quality.describe() in labels[SPARKPLUG].toolTip()
        assert all_good(MODBUS_TAGS)
        assert all(severity(t) is Severity.BAD for t in OPCUA_TAGS)
        await until(lambda: devices() == "plc1: OK  plc2: DOWN  site-b: DOWN", "site-b DOWN", 10)
        # each lost device's P1 communication alarm (after the project's on_delay)
        await until(lambda: alarmed() == {"plc2", "site-b"}, "plc2 and site-b comm alarms", 15)
        await grab(window, "two-lost")

    async def grab(window: MainWindow, name: str) -> None:
        window.context.binder.flush()  # the frame the binder would paint next
        # Let the loop run Qt's pending events (layouts, paints) before the grab. Not
        # qapp.processEvents(): called from a coroutine under qasync it can step another
        # task while this one runs ("Cannot enter into task", seen in one failing run).
        shown = asyncio.get_running_loop().create_future()
        QTimer.singleShot(0, lambda: shown.done() or shown.set_result(None))
        await shown
        path = tmp_path / f"three-protocols-{name}.png"
        assert window.grab().save(str(path))

    loop = qasync.QEventLoop(qapp)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
