"""Types of the compiled tap helper (``_tapc.c``; hmi.bus.broker.tapc says what it is for)."""

from typing import Any

def bind(path: str, /) -> tuple[int, int, int]:
    """Use the libzmq already loaded from ``path``; returns its version."""

def recv_three(handle: int, limit: int, /) -> tuple[list[tuple[bytes, ...]], bool]:
    """Up to ``limit`` waiting messages of the socket at ``handle`` (``Socket.underlying``),
    each ``(topic, header, payload)`` (``()``: another frame count), and whether more wait.
    """

def recv_runs(
    handle: int,
    limit: int,
    mine: bytes,
    pub: int,
    full: int,
    layouts: dict[bytes, tuple[bytes, bytes]],
    /,
) -> tuple[list[tuple[Any, ...]], bool]:
    """Up to ``limit`` waiting messages of the tap: each run of publications of one sender
    on one topic (usual headers) as ``(topic, sender, first seq, last seq, gaps, count,
    bytes, [(payload, full)], moot)``, the broker's own (``mine``) left out, of two
    neighbours with the topic's usual layout (``layouts``) the older left out (counted in
    ``moot``); any other message as ``(topic, header, payload)`` (``()``: another frame
    count); and whether more wait."""

def recv_router(
    handle: int, limit: int, keyed: bool, /
) -> tuple[list[tuple[bytes, bytes, bytes, bytes, str] | tuple[()]], bool]:
    """As :func:`recv_three` for a ROUTER: ``(routing id, topic, header, payload, key)``,
    ``key`` the connection's CURVE key (``User-Id``; "?" if none) when ``keyed``, else ""."""

def covers(free: bytes, structure: bytes, payload: bytes, /) -> bool:
    """``len(payload) == len(structure)`` and ``payload | free == structure`` bytewise."""

def covered_run(
    free: bytes, structure: bytes, pending: list[tuple[bytes, int]], start: int, /
) -> int:
    """Walking ``pending`` down from ``start``: the index of the first batch ``covers`` is
    false for, or whose flag is true (FULL); -1 when there is none."""

def collapse(
    free: bytes, structure: bytes, pending: list[tuple[bytes, int]], start: int, /
) -> tuple[int, int]:
    """Of two neighbours in ``pending`` from ``start - 1`` on that ``covers`` is true for,
    the older is removed (its FULL flag goes to the newer); returns how many batches and
    payload bytes were removed."""
