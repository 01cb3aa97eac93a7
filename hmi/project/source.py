"""Reading a file an engineer named, whatever it turns out to be.

``hmi check`` is pointed at files by people, and a file name in a project may name
anything: a FIFO (reading blocks forever, waiting for a writer), ``/dev/zero`` or
``/dev/urandom`` (endless: read until memory runs out), a directory, a file of
gigabytes. :func:`read_source` opens without blocking, refuses anything but a regular
file before reading a byte, reads at most :data:`MAX_FILE_BYTES` (a file can grow
while it is read, and /proc files say they are empty), and decodes UTF-8 with the line
of the first bad byte. Every refusal is a :class:`~hmi.project.errors.ConfigError`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hmi.project.errors import ConfigError

#: the largest file read (a project of 10,000 tags is about 2 MB)
MAX_FILE_BYTES = 10 * 1024 * 1024
_CHUNK = 1 << 16

#: what a file that is not a regular file is, in words
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class SourceError(Exception):
    """A file that cannot be read as text; ``error`` says why, with file and line."""

    def __init__(self, error: ConfigError) -> None:
        super().__init__(str(error))
        self.error = error


def read_source(path: Path, *, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the regular file ``path`` (at most ``limit`` bytes).

    Raises :class:`SourceError` for a file that is missing, unreadable, not a regular
    file, bigger than ``limit``, or not UTF-8.
    """
    data = _read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start]
        message = f"not UTF-8 text: byte 0x{byte:02x} at column {column}"
        raise _refused(path, message, line) from None


def _read_bytes(path: Path, limit: int) -> bytes:
    # O_NONBLOCK: opening a FIFO without a writer (or a serial device) returns at once
    # instead of blocking; fstat of the open file then says what it is, with no race
    # between looking and opening. Reads of a regular file are not affected by it.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _refused(path, f"cannot read: {exc.strerror or exc}") from None
    except ValueError:  # a NUL in the name
        raise _refused(path, "cannot read: the file name contains a NUL character") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise _refused(path, f"cannot read: {kind}, not a regular file")
        size = os.fstat(fd).st_size
        if size > limit:
            raise _refused(path, _too_big(size, limit))
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise _refused(path, _too_big(None, limit))
        return b"".join(chunks)
    except OSError as exc:
        raise _refused(path, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _too_big(size: int | None, limit: int) -> str:
    found = f"{size:,} bytes" if size is not None else "it grew while it was read"
    return f"too big to be a project's file: {found} (at most {limit:,} bytes)"


def _refused(path: Path, message: str, line: int = 1) -> SourceError:
    return SourceError(ConfigError(str(path), line, "(file)", message))
