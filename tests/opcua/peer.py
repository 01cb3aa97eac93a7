"""The node-opcua server of tests/peers/opcua as a process the tests start and stop.

``npm ci`` into that folder (``make test`` does it; :func:`ensure_node_opcua` does it
once for a bare ``pytest``). The server prints ``ready PORT`` when it listens and takes
commands on stdin (``bad``, ``good``, ``uncertain``, ``set NAME VALUE``), answering
``ok CMD`` each: tests wait for those lines, never sleep.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

PEER = Path(__file__).resolve().parents[1] / "peers" / "opcua"
SERVER = PEER / "server.js"
_install_lock = threading.Lock()


def ensure_node_opcua() -> None:
    """Install the pinned node-opcua into tests/peers/opcua once; skip without Node.js."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed for the node-opcua peer")
    with _install_lock:
        if (PEER / "node_modules" / "node-opcua" / "package.json").exists():
            return
        command = ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        done = subprocess.run(command, cwd=PEER, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"npm ci in {PEER} failed:\n{done.stdout}\n{done.stderr}")


class NodeOpcUaServer:
    """One node-opcua server process on ``port`` (restartable on the same port)."""

    def __init__(self, port: int, pki: Path, log: Path) -> None:
        self.port = port
        self.pki = pki
        self.log = log
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/UA/hmi"
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start it and wait for its ``ready`` line."""
        ensure_node_opcua()
        env = {**os.environ, "NODE_OPTIONS": "--no-deprecation"}
        with self.log.open("a") as err:
            self.process = subprocess.Popen(
                ["node", str(SERVER), str(self.port), str(self.pki)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=PEER,
                env=env,
            )
        self._expect("ready", timeout)

    def command(self, line: str, timeout: float = 10.0) -> None:
        """Send one command and wait until the server has carried it out."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        self._expect(f"ok {line.split(maxsplit=1)[0]}", timeout)

    def _expect(self, prefix: str, timeout: float) -> None:
        process = self.process
        assert process is not None and process.stdout is not None
        found: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith(prefix):
                    found.append(line)
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise RuntimeError(f"node-opcua server: no {prefix!r} line; see {self.log}")

    def stop(self) -> None:
        """Kill it (a server that vanishes, as on a power cut) and reap it."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
