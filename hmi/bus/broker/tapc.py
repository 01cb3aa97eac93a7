"""The broker's per-message work in C (its tap, its front), when the compiled helper is
there.

On the fast path every publication the proxy forwards is read again from the tap, in
Python, to keep the last-value cache and the statistics (hmi.bus.broker.forwarder). For
100-sample batches that was ~6.5 us per batch on top of the ~10 us libzmq's proxy costs
for three subscribers (issue 17: the broker's CPU per million updates, 1.5-1.9x a raw
``zmq.proxy``). Two parts of it were plain byte work, done here in C by
``hmi.bus.broker._tapc`` (``setup.py`` builds it; about 200 lines that parse nothing):

- receiving: pyzmq costs ~2 us per three-frame message (a Python call per frame and an
  object per frame); :class:`TapReader` receives every waiting message in one call,
  ~0.8 us each, with the libzmq that pyzmq loaded (found in this process's memory map,
  so the socket handle pyzmq gives is used by the library that made it);
- the last-value cache's layout test (:class:`hmi.bus.broker.lvc.Layout` imports it): ``(payload |
  free) == structure`` over ~3.5 KB was 3 us as Python integers, 0.3 us in C.

The front's reader receives the same way (:class:`FrontReader`): the checked path reads
every publication there.

Without the helper (no C compiler where the package was installed, a platform without
``/proc/self/maps``) the broker does the same work in Python: same results, more CPU.
The benchmark ``benchmarks/bench_bus.py`` (``hub_cpu_ratio``) says which ran.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

import zmq

from hmi.bus.net.zmqio import DRAIN_BATCH, BatchReader, RouterReader
from hmi.bus.wire.frames import Flag, Kind

log = logging.getLogger(__name__)

_PUB = int(Kind.PUB)
_FULL = int(Flag.FULL)

_tapc: ModuleType | None
try:
    from hmi.bus.broker import _tapc
except ImportError:  # not built: everything runs in Python
    _tapc = None


def _libzmq_path() -> str | None:
    """The file of the libzmq mapped into this process (pyzmq's), or None."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            found = {
                fields[5].strip()
                for fields in (line.split(maxsplit=5) for line in maps)
                if len(fields) == 6 and fields[5].rsplit("/", 1)[-1].startswith("libzmq")
            }
    except OSError:
        return None
    # two copies loaded: which one made a socket cannot be told; none is used
    return found.pop() if len(found) == 1 else None


@functools.cache
def receiver_available() -> bool:
    """True when the helper's ``recv_three`` can run here (it is built, and bound to the
    libzmq pyzmq loaded, of the same version). Found out once per process."""
    path = _libzmq_path() if _tapc is not None else None
    if _tapc is None or path is None:
        return False
    try:
        version = _tapc.bind(path)
    except OSError as exc:
        log.info("tap helper not used: %s", exc)
        return False
    return bool(tuple(version) == zmq.zmq_version_info())


#: messages received and handed over at a time: a read every 5 ms finds hundreds, and
#: 600 payloads of 3.5 KB received at once made the heap grow by 2 MB, and glibc gave it
#: back to the system after they were handled, so every read faulted fresh (zeroed) pages
#: in again (~1 us a message, measured with perf). Chunks of this many reuse the same
#: memory (under glibc's 128 KB trim threshold for payloads up to ~4 KB).
CHUNK = 32


def _in_c(sock: zmq.Socket[bytes], receive: Any, *args: Any) -> tuple[list[Any], bool]:
    """``receive(handle, *args)``, a receiver of the helper's, on ``sock``; its errors as
    pyzmq's."""
    if sock.closed:  # (its handle would be freed memory)
        raise zmq.ZMQError(errno.ENOTSOCK)
    try:
        messages, more = receive(sock.underlying, *args)
    except OSError as exc:
        raise zmq.ZMQError(exc.errno or errno.EIO) from exc
    return messages, more


class TapReader(BatchReader):
    """A :class:`BatchReader` of the tap that receives in C, in chunks of :data:`CHUNK`
    messages, and hands over each run of publications of one sender on one topic as one
    item (:meth:`hmi.bus.broker.ledger.Ledger.record_read` says what an item is): the
    headers of the usual shape are read in C, the rest as messages for Python.
    ``mine``: the broker's own sender id (its messages are left out); ``layouts``: the
    cache's usual layout of each topic (:attr:`hmi.bus.broker.lvc.LastValueCache.usual`),
    by which the batches a run makes moot are left in libzmq's messages, never copied."""

    chunk = CHUNK

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        handle: Callable[[list[Any]], None],
        *,
        period: float,
        mine: str,
        layouts: dict[bytes, tuple[bytes, bytes]],
    ) -> None:
        # (a read hands over items, each up to a chunk of messages: at most DRAIN_BATCH
        # messages of runs per turn of the loop, as other readers)
        super().__init__(sock, handle, max(1, DRAIN_BATCH // CHUNK), period=period, three=True)
        self._mine = mine.encode()
        self._layouts = layouts

    def receive_batch(self, limit: int, first: bool = False) -> tuple[list[Any], bool | None]:
        assert _tapc is not None  # (made only when receiver_available())
        return _in_c(self.sock, _tapc.recv_runs, limit, self._mine, _PUB, _FULL, self._layouts)


class FrontReader(RouterReader):
    """A :class:`RouterReader` of the broker's front that receives in C: no
    ``zmq.Frame`` per frame (pyzmq locks a mutex for each), the CURVE key read in the same
    call (the checked path's per-publication work in Python was ~3.5 us, a third of it in
    pyzmq's frames)."""

    def receive_batch(self, limit: int, first: bool = False) -> tuple[list[Any], bool | None]:
        assert _tapc is not None  # (made only when receiver_available())
        # (as RouterReader: a wake-up's first message alone, and the socket asked after it
        # is handled, when the reader answers first)
        reply_first = first and self._reply_first
        count = 1 if reply_first else limit
        messages, more = _in_c(self.sock, _tapc.recv_router, count, self.keyed)
        return messages, (None if reply_first and more else more)


def front_reader(
    sock: zmq.Socket[bytes],
    handle: Callable[[list[Any]], None],
    batch: int,
    *,
    keyed: bool,
    reply_first: bool,
) -> RouterReader:
    """A reader of the front: :class:`FrontReader` when the helper can run, else
    :class:`RouterReader` (the same reading in Python)."""
    kind = FrontReader if receiver_available() else RouterReader
    return kind(sock, handle, batch, keyed=keyed, reply_first=reply_first)


def tap_reader(
    sock: zmq.Socket[bytes],
    handle: Callable[[list[Any]], None],
    *,
    period: float,
    mine: str,
    layouts: dict[bytes, tuple[bytes, bytes]],
) -> BatchReader:
    """A reader of the tap: :class:`TapReader` when the helper can run, else the same
    reading in Python (messages only)."""
    if receiver_available():
        return TapReader(sock, handle, period=period, mine=mine, layouts=layouts)
    return BatchReader(sock, handle, period=period, three=True)
