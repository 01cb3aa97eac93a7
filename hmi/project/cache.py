"""Validated projects kept between starts, so a large plant opens without reading it again.

Composing and validating a 10,000-tag file takes about half a second; rebuilding the
validated project from its plain data takes a quarter of that. An entry is used only when
all of these hold, else the file is read and checked as if there were no cache:

- the project file's text is the same (SHA-256), named by the same path from the same
  folder (relative paths in it resolve against both);
- the code that validated it is the same (``hmi.__version__`` and the source of
  :mod:`hmi.project` and :mod:`hmi.core`, so an edited checkout never trusts an old verdict);
- every path the project named (screens, key files) still resolves as it did
  (:func:`hmi.project.paths.resolves_as_noted`);
- the entry carries the HMAC-SHA256 of its bytes under a key only this user can read
  (``key`` in the cache folder, mode 0600): an edited or corrupted entry is refused;
- it decodes into the model's dataclasses (:mod:`hmi.project.plain`: MessagePack by
  msgspec, never pickle), each checking its own fields as it is built.

Only valid projects are kept, so every error is still reported from the file itself, with
its line. Projects with devices of plug-in protocols are not kept: their fields are the
plug-in's to read, and the installed plug-ins may change.

Where: ``$HMI_CACHE_DIR`` (empty: no cache), else the user's cache folder
(``$XDG_CACHE_HOME/hmi``, ``~/.cache/hmi``; ``%LOCALAPPDATA%\\hmi\\cache`` on Windows),
in ``projects/``, at most :data:`MOST_KEPT` entries (the least recently written go first).
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import logging
import os
import secrets
import stat
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

import msgspec

import hmi
from hmi.core.address import ModbusAddress
from hmi.project import plain
from hmi.project.model import MODBUS_PROTOCOLS, Project
from hmi.project.paths import Resolution, resolves_as_noted

log = logging.getLogger(__name__)

#: entries kept (a 10,000-tag project's is about 3.3 MB)
MOST_KEPT = 16
#: the largest entry read
_MOST_BYTES = 256 * 1024 * 1024
#: bumped when an entry's layout changes
_FORMAT = 1
_KEY_BYTES = 32
#: seconds a write may take: an unfinished one older than this died
_WRITING = 600.0
_MAC_HEX = 64


class _Entry(msgspec.Struct, forbid_unknown_fields=True):
    """One kept project and what it was kept for."""

    format: int
    code: str
    path: str
    cwd: str
    source: str
    paths: list[tuple[str, str, str, str]]
    project: msgspec.Raw


def folder() -> Path | None:
    """The cache folder (``$HMI_CACHE_DIR``, else the user's), or None for no cache."""
    given = os.environ.get("HMI_CACHE_DIR")
    if given is not None:
        return Path(given) if given else None
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) / "hmi" / "cache" if base else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "hmi"
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "hmi"
    return home / ".cache" / "hmi"


def lookup(path: Path, text: str) -> Project | None:
    """The kept project of ``path`` whose text is ``text``, or None (then read the file)."""
    where = folder()
    if where is None:
        return None
    try:
        key = _key(where, create=False)
        if key is None:
            return None
        data = _read_own(_entry_file(where, path))
        if data is None:
            return None
        mac, body = data[:_MAC_HEX], data[_MAC_HEX + 1 :]
        if not hmac.compare_digest(mac, _mac(key, body).encode()):
            log.warning("kept project %s: its signature does not match, not used", path)
            return None
        entry = msgspec.msgpack.decode(body, type=_Entry)
        if (entry.format, entry.code, entry.path, entry.cwd, entry.source) != (
            _FORMAT,
            _code(),
            str(path),
            _cwd(path),
            _digest(text),
        ):
            return None  # another text or code: an entry of the past
        if not resolves_as_noted(entry.paths):
            return None
        collecting = gc.isenabled()
        gc.disable()  # thousands of new objects, nothing cyclic (as in parse_project)
        try:
            project: Project = plain.decode(entry.project, Project)
        finally:
            if collecting:
                gc.enable()
        return project
    except (OSError, msgspec.DecodeError, msgspec.ValidationError, plain.Unrepresentable) as exc:
        log.debug("kept project of %s not used: %s", path, exc)
        return None


def keep(path: Path, text: str, project: Project, resolved: list[Resolution]) -> None:
    """Keep ``project``, validated from ``text`` at ``path`` with the path resolutions
    ``resolved``; a cache that cannot be written is passed over (logged at debug)."""
    where = folder()
    if where is None or not _plugin_free(project):
        return
    try:
        body = msgspec.msgpack.encode(
            _Entry(
                format=_FORMAT,
                code=_code(),
                path=str(path),
                cwd=_cwd(path),
                source=_digest(text),
                paths=resolved,
                project=msgspec.Raw(plain.encode(project)),
            )
        )
        key = _key(where, create=True)
        if key is None:
            return
        entries = where / "projects"
        entries.mkdir(mode=0o700, exist_ok=True)
        _write(_entry_file(where, path), _mac(key, body).encode() + b"\n" + body)
        _prune(entries)
    except (OSError, ValueError, TypeError, msgspec.EncodeError) as exc:
        log.debug("project %s not kept: %s", path, exc)


def _plugin_free(project: Project) -> bool:
    """True when only the loader read the project (no plug-in protocol's device or tag)."""
    if any(
        d.protocol not in MODBUS_PROTOCOLS or d.settings is not None
        for d in project.devices.values()
    ):
        return False
    return all(
        tag.source is None or type(tag.source.address) is ModbusAddress
        for tag in project.tags.values()
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _mac(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _cwd(path: Path) -> str:
    """The folder a relative ``path`` (and the paths in it) is read from; "" if absolute."""
    return "" if path.is_absolute() else os.getcwd()


def _entry_file(where: Path, path: Path) -> Path:
    name = hashlib.sha256(f"{_cwd(path)}\0{path}".encode("utf-8", "surrogatepass"))
    return where / "projects" / f"{name.hexdigest()[:32]}.msgpack"


@cache
def _code() -> str:
    """What validated a project: the version and the source of hmi.project and hmi.core."""
    digest = hashlib.sha256(f"hmi {hmi.__version__}\0format {_FORMAT}".encode())
    package = Path(hmi.__file__).parent
    for sub in ("project", "core"):
        for source in sorted((package / sub).rglob("*.py")):
            digest.update(str(source.relative_to(package)).encode() + b"\0")
            digest.update(source.read_bytes())
    return digest.hexdigest()


def _key(where: Path, *, create: bool) -> bytes | None:
    """This user's key for the entries' signatures (made on first use, and again when a
    write of it died half-way), or None when it is missing, or anyone else may use it."""
    file = where / "key"
    key = _read_own(file)
    if key is not None and len(key) == _KEY_BYTES:
        return key
    if not create or (key is None and os.path.lexists(file)):
        return None  # refused by _read_own: not ours to replace
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Two first starts at once may each write one: the entries signed with the key that
    # lost are refused later, and kept again. Harmless, and no lock to leave behind.
    key = secrets.token_bytes(_KEY_BYTES)
    _write(file, key)
    return key


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _read_own(file: Path) -> bytes | None:
    """The bytes of ``file`` when it is a regular file of this user that nobody else may
    read or write (POSIX); None when it is missing or not."""
    try:
        fd = os.open(file, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MOST_BYTES:
            return None
        if hasattr(os, "geteuid") and (
            info.st_uid != os.geteuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
        ):
            log.warning("%s is not this user's alone: not used", file)
            return None
        return stream.read(_MOST_BYTES + 1)


def _write(file: Path, data: bytes) -> None:
    """Write ``file`` whole or not at all (a reader never sees half of it)."""
    fd, temporary = tempfile.mkstemp(dir=file.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, file)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _prune(entries: Path) -> None:
    """Remove the least recently written entries beyond :data:`MOST_KEPT` (and anything
    else there: entries of an older layout, halves of writes that died)."""
    files = [(f.stat().st_mtime, f) for f in entries.iterdir() if f.is_file()]
    files.sort(reverse=True)
    written = [f for _, f in files if f.suffix == ".msgpack" and not f.name.startswith(".")]
    stale = set(written[MOST_KEPT:])
    started = time.time() - _WRITING
    stale.update(f for when, f in files if f not in written and when < started)
    for old in stale:
        old.unlink(missing_ok=True)
