"""The OPC UA driver against node-opcua, a server we did not write.

Values of several types and their qualities arrive in a TagStore by subscription; a
write is read back and confirmed, one the server takes back is OVERRIDDEN, one without
the right or on a read-only node is refused; a server restart is survived: the tags are
BAD (not connected) in between, with the device's status, and GOOD after.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from hmi.core.command import CommandState
from hmi.core.quality import Reason, Severity
from hmi.drivers.manager import DriverManager
from tests.opcua.helpers import StoreSink, command, project_on
from tests.opcua.peer import NodeOpcUaServer

GOOD = Severity.GOOD


def test_values_of_several_types_and_their_qualities_arrive(
    node_opcua: NodeOpcUaServer, tmp_path: Path
) -> None:
    project = project_on(tmp_path, node_opcua.endpoint)

    async def main() -> None:
        sink = StoreSink(project)
        manager = DriverManager.for_project(project, sink)
        await manager.start()
        try:
            get = sink.get
            await sink.until(lambda: get("u/plc/name").quality.severity is GOOD)
            assert get("u/plc/level").value == 1.25  # Float
            assert get("u/plc/pressure").value == -12  # Int16
            assert get("u/plc/flags").value == 5  # UInt16
            assert get("u/plc/total").value == 100000  # Int32
            assert get("u/plc/running").value is True  # Boolean
            assert get("u/plc/name").value == "pump one"  # String
            assert get("u/plc/sensor").value == 7.5
            assert isinstance(get("u/plc/counter").value, int)
            # the server's source timestamp is kept (not the time it arrived here)
            level = get("u/plc/level")
            assert 0 < level.source_time <= level.receive_time

            # a node the server does not have: BAD, configuration error, with its code
            missing = get("u/plc/missing")
            assert missing.quality.severity is Severity.BAD
            assert missing.quality.reason is Reason.CONFIG_ERROR
            assert "BadNodeIdUnknown" in missing.quality.detail

            # subscriptions, not polling: a value that changes on the server arrives
            first = get("u/plc/counter").value
            await sink.until(lambda: get("u/plc/counter").value >= first + 3)
            # the same node with a deadband of 1000 (the server's data-change filter):
            # its first value, then nothing while the counter moves on
            assert get("u/plc/counter_db").value <= first

            # the server marks a value bad, uncertain, good: our quality follows, value kept
            node_opcua.command("bad")
            await sink.until(lambda: get("u/plc/sensor").quality.severity is Severity.BAD)
            sensor = get("u/plc/sensor")
            assert sensor.quality.reason is Reason.SENSOR_FAILURE
            assert sensor.quality.detail == "plc: BadSensorFailure"
            assert sensor.value == 7.5
            node_opcua.command("uncertain")
            await sink.until(lambda: get("u/plc/sensor").quality.severity is Severity.UNCERTAIN)
            assert get("u/plc/sensor").quality.reason is Reason.LAST_KNOWN_VALUE
            node_opcua.command("good")
            await sink.until(lambda: get("u/plc/sensor").quality.severity is GOOD)
            node_opcua.command("set Sensor 8.25")
            await sink.until(lambda: get("u/plc/sensor").value == 8.25)
        finally:
            await manager.stop()

    asyncio.run(main())


def test_writes_are_read_back_overridden_or_refused(
    node_opcua: NodeOpcUaServer, tmp_path: Path
) -> None:
    project = project_on(tmp_path, node_opcua.endpoint)

    async def main() -> None:
        sink = StoreSink(project)
        manager = DriverManager.for_project(project, sink)
        await manager.start()
        try:
            get = sink.get
            await sink.until(lambda: get("u/plc/setpoint").quality.severity is GOOD)
            result = await manager.write(command("u/plc/setpoint", 42.5))
            assert result.state is CommandState.CONFIRMED, result
            assert result.value == 42.5
            await sink.until(lambda: get("u/plc/setpoint").value == 42.5)

            # the server takes a value above 100 back within the settle time: overridden,
            # and what the screens show is the server's value
            result = await manager.write(command("u/plc/clamped", 150.0))
            assert result.state is CommandState.OVERRIDDEN, result
            assert result.value == 100.0
            assert result.message == "overridden by device: reads 100"
            await sink.until(lambda: get("u/plc/clamped").value == 100.0)

            # a float64 tag on an Int32 node: sent in the node's type, or refused with why
            result = await manager.write(command("u/plc/mode", 3.0))
            assert result.state is CommandState.CONFIRMED, result
            assert result.value == 3
            result = await manager.write(command("u/plc/mode", 2.5))
            assert result.state is CommandState.FAILED, result
            assert (
                result.message
                == "plc: ns=1;s=Mode: the node holds Int32: 2.5 is not a whole number"
            )

            # no right: a viewer may not write; refused before anything is sent
            result = await manager.write(command("u/plc/setpoint", 1.0, "viewer", user="v"))
            assert result.state is CommandState.REJECTED, result
            assert "may not write u/plc/setpoint" in result.message
            # limits, and the type's range, as for Modbus
            result = await manager.write(command("u/plc/setpoint", 5000.0))
            assert result.state is CommandState.REJECTED
            assert "outside the limits" in result.message
            result = await manager.write(command("u/plc/level_w", 1e39))
            assert result.state is CommandState.REJECTED
            assert "does not fit float32" in result.message
            # the tag has no write roles: read-only here
            result = await manager.write(command("u/plc/level", 2.0))
            assert result.state is CommandState.REJECTED
            assert result.message == "u/plc/level is read-only"
            # the node is read-only on the server: it refuses, in its words
            result = await manager.write(command("u/plc/level_w", 2.0))
            assert result.state is CommandState.FAILED, result
            assert result.message.startswith("refused: plc: Bad"), result
            assert get("u/plc/setpoint").value == 42.5
        finally:
            await manager.stop()

    asyncio.run(main())


def test_a_server_restart_is_survived_with_the_tags_bad_in_between(
    node_opcua: NodeOpcUaServer, tmp_path: Path
) -> None:
    project = project_on(tmp_path, node_opcua.endpoint)

    async def main() -> None:
        sink = StoreSink(project)
        manager = DriverManager.for_project(project, sink)
        await manager.start()
        try:
            get = sink.get
            await sink.until(lambda: get("u/plc/counter").quality.severity is GOOD)
            assert sink.statuses[-1].connected

            node_opcua.stop()  # killed: no goodbye
            await sink.until(lambda: get("u/plc/level").quality.severity is Severity.BAD)
            level = get("u/plc/level")
            assert level.quality.reason is Reason.NOT_CONNECTED
            assert level.quality.detail == f"plc: lost {node_opcua.endpoint}: the connection closed"
            assert level.value == 1.25  # the last value kept, marked
            assert all(
                get(name).quality.severity is Severity.BAD
                for name in project.tags
                if name != "u/plc/missing"
            )
            # the device's status (its communication alarm) says so
            await sink.until(lambda: not sink.statuses[-1].connected)
            assert not sink.statuses[-1].communicating
            assert sink.statuses[-1].last_error.startswith("plc: ")
            # a write meanwhile fails at once, with why
            result = await manager.write(command("u/plc/setpoint", 3.0))
            assert result.state is CommandState.FAILED

            await asyncio.to_thread(node_opcua.start)
            # a new session and subscription: every tag GOOD again, values flowing
            await sink.until(lambda: get("u/plc/level").quality.severity is GOOD, timeout=20)
            counter = get("u/plc/counter").value
            await sink.until(lambda: get("u/plc/counter").value > counter)
            assert sink.statuses[-1].connected and sink.statuses[-1].communicating
            result = await manager.write(command("u/plc/setpoint", 4.0))
            assert result.state is CommandState.CONFIRMED, result
        finally:
            await manager.stop()

    asyncio.run(main())


def test_a_frozen_server_is_found_by_the_keep_alive(
    node_opcua: NodeOpcUaServer, tmp_path: Path
) -> None:
    """A server that stops answering without closing the connection (a hung PLC, a pulled
    cable): BAD within the keep-alive's bound, GOOD again when it answers."""
    project = project_on(tmp_path, node_opcua.endpoint)

    async def main() -> None:
        sink = StoreSink(project)
        manager = DriverManager.for_project(project, sink)
        await manager.start()
        assert node_opcua.process is not None
        pid = node_opcua.process.pid
        try:
            get = sink.get
            await sink.until(lambda: get("u/plc/level").quality.severity is GOOD)
            os.kill(pid, signal.SIGSTOP)
            await sink.until(lambda: get("u/plc/level").quality.severity is Severity.BAD)
            level = get("u/plc/level").quality
            assert level.reason is Reason.NOT_CONNECTED
            assert level.detail.endswith("no answer to the keep-alive (server or network stalled)")
            os.kill(pid, signal.SIGCONT)
            await sink.until(lambda: get("u/plc/level").quality.severity is GOOD, timeout=20)
        finally:
            os.kill(pid, signal.SIGCONT)
            await manager.stop()

    asyncio.run(main())
