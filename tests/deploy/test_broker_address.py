"""``hmi broker`` binds the address every other command connects to: ``--broker`` and
``$HMI_BROKER`` as for them (docs/deployment.md, step 2), and a taken address is one
clear line, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.deploy.processes import Command, environment, processes
from tests.ports import free_port_pair


def test_the_broker_binds_hmi_broker_and_says_so_when_the_address_is_taken(
    tmp_path: Path,
) -> None:
    address = f"tcp://127.0.0.1:{free_port_pair()}"
    env = environment(tmp_path)
    with processes() as running:
        first = Command(
            "broker", "broker", "--quiet", env={**env, "HMI_BROKER": address}, log=tmp_path / "b"
        )
        running.append(first)
        first.wait_for(f"front {address}")
        second = subprocess.run(
            [sys.executable, "-m", "hmi", "broker", "--broker", address, "--quiet"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    assert second.stderr.strip().splitlines()[-1] == (
        f"hmi broker: cannot listen on {address}: Address already in use "
        "(is another broker running?)"
    )
