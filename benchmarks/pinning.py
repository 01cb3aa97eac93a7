"""Pinning a benchmark and its server to one CPU (see bench_modbus.py's docstring: left to
the scheduler, client and server share a core in some rounds and not in others, and a
request across cores costs about twice as much)."""

from __future__ import annotations

import os


def pin_together(pid: int) -> int | None:
    """Pin this process and ``pid`` to one CPU (Linux); the CPU, or None where pinning is
    not possible."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        os.sched_setaffinity(pid, {cpu})
    except OSError:
        return None
    return cpu
