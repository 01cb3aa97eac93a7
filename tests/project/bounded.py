"""A time bound for code that might hang (a FIFO opened for reading blocks forever).

``signal.setitimer`` interrupts the main thread even inside a blocking system call (the
call fails with EINTR, the handler raises), so a hang fails the test at once with
:class:`Hang` instead of stalling the run until pytest-timeout kills it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Hang(AssertionError):
    """The bounded code did not finish in time."""


@contextlib.contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Fail with :class:`Hang` if the block takes longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only; pytest-timeout still bounds the test
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
