"""A node whose key lacks a right says so itself (docs/bus-protocol.md, the welcome's
``publish`` and ``refused``): a driver node started with a station's key, whose policy
lets it neither publish its samples nor serve its RPC target, printed only "ready" while
the broker refused everything it did (in the broker's log alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.processes import (
    Command,
    control_room_project,
    environment,
    generate_keys,
    processes,
)
from tests.ports import free_port, free_port_pair

pytestmark = pytest.mark.slow


@pytest.mark.timeout(120)
def test_a_node_whose_key_may_not_publish_or_serve_says_so(tmp_path: Path) -> None:
    broker_port, plc_port = free_port_pair(), free_port()
    project = control_room_project(tmp_path, broker_port=broker_port, plc_port=plc_port)
    env = environment(tmp_path)
    generate_keys(tmp_path, "broker", "drivers", "backend", "station", "station-2", env=env)
    with processes() as started:
        for name, args in (
            ("broker", ("broker", str(project), "--quiet")),
            ("sim", ("sim", "--port", str(plc_port))),
            (
                "node",
                (
                    "node",
                    str(project),
                    "--name",
                    "drivers",
                    "--key",
                    str(tmp_path / "keys" / "station-2.key_secret"),
                ),
            ),
        ):
            started.append(Command(name, *args, env=env, log=tmp_path / f"{name}.log"))
        node = started[-1]
        node.wait_for("ready", 60)
        node.wait_for("does not let this node's key serve RPC target 'drivers'", 30)
        node.wait_for("does not let this node's key publish 'tag/drivers'", 30)
