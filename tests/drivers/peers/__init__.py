"""Peers we did not write: a libmodbus server, compiled on demand."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("libmodbus_server.c")


def build_libmodbus_server(folder: Path) -> Path | str:
    """Compile the libmodbus server into ``folder``; returns its path, or why not."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return "gcc not installed"
    exe = folder / "libmodbus_server"
    flags = ["-I/usr/include/modbus"]
    try:
        pkg = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "libmodbus"],
            capture_output=True,
            text=True,
            check=True,
        )
        flags = pkg.stdout.split()
    except (OSError, subprocess.CalledProcessError):
        flags += ["-lmodbus"]
    proc = subprocess.run(
        [gcc, "-O2", "-o", str(exe), str(SOURCE), *flags], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return f"cannot build against libmodbus (apt install libmodbus-dev): {proc.stderr[:300]}"
    return exe


def start_server(exe: Path, port: int, changing: int = 0) -> subprocess.Popen[str]:
    """Run the server on 127.0.0.1:``port`` and wait until it listens.

    ``changing`` > 0 makes input registers ``0..changing-1`` count up on every request.
    """
    args = [str(exe), str(port)] + ([str(changing)] if changing else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "READY":
        proc.kill()
        proc.wait()
        raise RuntimeError(f"libmodbus server did not start: {line!r}")
    return proc
