"""Free TCP ports on 127.0.0.1 for the tests, never the same one twice in a run.

A port is free when it is asked for, not when it is used: a test that asks for two (a
simulated PLC's, then a broker's pair) may get the first again as part of the second
(the system hands recently closed ports out again), and whichever process binds it
second fails (seen: a broker that could not bind its back port, so no node was ever
welcomed). Remembering what was handed out keeps every test's ports apart.
"""

from __future__ import annotations

import socket

#: ports handed out in this run
_GIVEN: set[int] = set()


def _bound_port(port: int = 0) -> int | None:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return None
        return int(sock.getsockname()[1])


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, not handed out before in this run."""
    for _ in range(200):
        port = _bound_port()
        if port is not None and port not in _GIVEN:
            _GIVEN.add(port)
            return port
    raise RuntimeError("no free port")


def free_port_pair() -> int:
    """A port p with p and p + 1 free on 127.0.0.1 (a broker's front and back), neither
    handed out before in this run."""
    for _ in range(200):
        port = _bound_port()
        if port is None or port >= 65534 or {port, port + 1} & _GIVEN:
            continue
        if _bound_port(port + 1) is None:
            continue
        _GIVEN.update((port, port + 1))
        return port
    raise RuntimeError("no free port pair")
