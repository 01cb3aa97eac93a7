"""File names from a project file, made absolute without a traceback.

``Path.resolve`` raises RuntimeError on a symlink loop and ValueError on a NUL in the
name; a project's ``file:`` or key path may be either. Here each is an answer.

Every path a project names is resolved here, and each answer is noted in the log that
:func:`noting` opens: a validated project kept between starts (:mod:`hmi.project.cache`)
is only used while every path still resolves as it did.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

#: one resolution: (``"path"`` or ``"file"``, the path as named, resolved, problem)
Resolution = tuple[str, str, str, str]

_log: ContextVar[list[Resolution] | None] = ContextVar("hmi_project_paths", default=None)


@contextmanager
def noting() -> Iterator[list[Resolution]]:
    """Note every resolution made inside the ``with`` block in the list it gives."""
    log: list[Resolution] = []
    token = _log.set(log)
    try:
        yield log
    finally:
        _log.reset(token)


def resolves_as_noted(log: list[Resolution]) -> bool:
    """True when every resolution of ``log`` gives the same answer now."""
    check = {"path": _resolve, "file": _resolve_file}
    for kind, named, resolved, problem in log:
        if kind not in check:
            return False
        found, why = check[kind](Path(named))
        if (str(found), why) != (resolved, problem):
            return False
    return True


def _note(kind: str, path: Path, answer: tuple[Path, str]) -> tuple[Path, str]:
    log = _log.get()
    if log is not None:
        log.append((kind, str(path), str(answer[0]), answer[1]))
    return answer


def safe_resolve(path: Path) -> tuple[Path, str]:
    """``path`` made absolute, and ``""``; or ``path`` and why it cannot be."""
    return _note("path", path, _resolve(path))


def resolve_file(path: Path) -> tuple[Path, str]:
    """``path`` made absolute and ``""`` when it is a regular file; else why not."""
    return _note("file", path, _resolve_file(path))


def _resolve(path: Path) -> tuple[Path, str]:
    try:
        return path.resolve(), ""
    except RuntimeError:  # pathlib's "Symlink loop from ..."
        return path, f"cannot use {path}: a loop of symbolic links"
    except (OSError, ValueError) as exc:
        return path, f"cannot use {path}: {exc}"


def _resolve_file(path: Path) -> tuple[Path, str]:
    resolved, problem = _resolve(path)
    if problem:
        return resolved, problem
    try:
        regular = resolved.is_file()
    except (OSError, ValueError) as exc:
        return resolved, f"cannot use {resolved}: {exc}"
    if not regular:
        missing = not resolved.exists()
        what = "no such file" if missing else "not a regular file"
        return resolved, f"{what}: {resolved}"
    return resolved, ""
