"""File names from a project file, made absolute without a traceback.

``Path.resolve`` raises RuntimeError on a symlink loop and ValueError on a NUL in the
name; a project's ``file:`` or key path may be either. Here each is an answer.
"""

from __future__ import annotations

from pathlib import Path


def safe_resolve(path: Path) -> tuple[Path, str]:
    """``path`` made absolute, and ``""``; or ``path`` and why it cannot be."""
    try:
        return path.resolve(), ""
    except RuntimeError:  # pathlib's "Symlink loop from ..."
        return path, f"cannot use {path}: a loop of symbolic links"
    except (OSError, ValueError) as exc:
        return path, f"cannot use {path}: {exc}"


def resolve_file(path: Path) -> tuple[Path, str]:
    """``path`` made absolute and ``""`` when it is a regular file; else why not."""
    resolved, problem = safe_resolve(path)
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
