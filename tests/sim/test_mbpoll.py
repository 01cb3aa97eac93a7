"""A Modbus master we did not write (Debian's mbpoll) drives the simulated plant."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hmi.testing import RunningPlant

MBPOLL = shutil.which("mbpoll")
pytestmark = pytest.mark.skipif(
    MBPOLL is None, reason="mbpoll is not installed (packaging/sysdeps.sh installs it)"
)


def _mbpoll(plant: RunningPlant, *args: str) -> str:
    assert MBPOLL is not None
    command = [MBPOLL, "-m", "tcp", "-p", str(plant.port), "-a", "1", "-0", "-1", "-o", "2"]
    # mbpoll wants options before the host and write values after it
    options = [a for a in args if not a.startswith("=")]
    values = [a[1:] for a in args if a.startswith("=")]
    result = subprocess.run(
        [*command, *options, plant.host, *values], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _values(output: str) -> list[str]:
    return [line.split("\t")[-1].strip() for line in output.splitlines() if line.startswith("[")]


def test_mbpoll_reads_level_starts_pump_and_sees_it_running(plant: RunningPlant) -> None:
    # T-101 level: float32, big-endian word order, input register 0
    level = _values(_mbpoll(plant, "-t3:float", "-B", "-r", "0"))
    assert level == ["2.5"]

    assert "Written 1 references" in _mbpoll(plant, "-t0", "-r", "0", "=1")  # P-101 start coil
    plant.advance(1.0)
    assert _values(_mbpoll(plant, "-t1", "-r", "0", "-c", "2")) == ["1", "0"]  # running, no trip

    # the pump drains the tank: read the level again, now as the scaled uint16 in mm
    plant.advance(60.0)
    mm = int(_values(_mbpoll(plant, "-t3", "-r", "20"))[0])
    assert 2420 < mm < 2430  # 9 m³/h for 61 s out of a 2 m² tank: -76 mm
