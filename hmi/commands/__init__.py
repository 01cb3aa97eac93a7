"""Sub-commands of ``hmi``: one module each, discovered at start-up.

A module here defines ``register(commands)``, which adds its parser to the
``argparse`` sub-parsers and sets ``handler=callable(args) -> int``. Modules import their
heavy dependencies (Qt, zmq, pymodbus) inside the handler so ``hmi --help`` stays fast.
"""

from __future__ import annotations

import argparse


def heartbeat_interval(text: str) -> float:
    """``--heartbeat`` of the node commands: seconds, more than 0 (and below a day)."""
    value = float(text)
    if not 0 < value < 86_400:
        raise argparse.ArgumentTypeError(f"{text}: seconds, more than 0")
    return value
