"""What the security service must not forget across a restart: the sessions logged out
(until no token of theirs can be live) and the users disabled (until enabled again).

Kept in a small JSON file in the backend's data folder, rewritten atomically (a new file,
then a rename) at every change; without a path (tests, a demo) it lives in memory only.
A file that cannot be read is an error at start, never an empty state: forgetting a
revocation would let a logged-out session write again.

A file that cannot be *written* (a full disk) does not undo what tightens security: a
logout or a disabled user holds at once in memory, the failure is reported to the
:class:`~hmi.services.health.StoreHealth` (the ``system/sessions/storage`` alarm), and
saving is tried again (:meth:`SessionLedger.retry`, and at every change) until it works;
only a restart meanwhile would forget it. Enabling a user loosens it, so that is refused
(:class:`SessionsUnavailable`) when it cannot be saved.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hmi.services.health import SESSIONS, StoreHealth, describe

log = logging.getLogger(__name__)

#: the file's layout; a later one is refused rather than misread
VERSION = 1


class SessionStateError(ValueError):
    """The state file cannot be used; the message names it and says why."""


class SessionsUnavailable(RuntimeError):
    """A change that must be saved could not be; it was not made."""


@dataclass(frozen=True, slots=True)
class Disabled:
    """Why and since when a user may not log in or act."""

    by: str
    since: float
    reason: str = ""


class SessionLedger:
    """Revoked sessions and disabled users, saved to ``path`` when one is given."""

    def __init__(self, path: Path | None = None, *, health: StoreHealth | None = None) -> None:
        self.path = path
        self.health = health
        #: revoked session -> when it may be forgotten
        self.revoked: dict[str, float] = {}
        self.disabled: dict[str, Disabled] = {}
        #: True while a change is held in memory only (the file could not be written)
        self.unsaved = False
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != VERSION:
                raise ValueError(f"expected version {VERSION}")
            revoked = data["revoked"]
            disabled = data["disabled"]
            self.revoked = {str(k): float(v) for k, v in revoked.items()}
            self.disabled = {
                str(user): Disabled(str(d["by"]), float(d["since"]), str(d.get("reason", "")))
                for user, d in disabled.items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SessionStateError(
                f"{path}: cannot read the revoked sessions and disabled users ({exc}); "
                "fix or remove it knowingly: removing it forgets every logout"
            ) from None

    def _save(self) -> None:
        if self.path is None:
            return
        data: dict[str, Any] = {
            "version": VERSION,
            "revoked": self.revoked,
            "disabled": {user: asdict(info) for user, info in self.disabled.items()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()  # a half-written copy only takes the space that is missing
            raise

    def _persist(self) -> bool:
        """Save, or hold the change in memory and report why; never raises."""
        try:
            self._save()
        except OSError as exc:
            self.unsaved = True
            log.error("%s: cannot save logouts and disabled users: %s", self.path, exc)
            if self.health is not None:
                self.health.report(SESSIONS, describe(exc))
            return False
        self.unsaved = False
        if self.health is not None:
            self.health.report(SESSIONS, None)
        return True

    def retry(self) -> bool:
        """Save what is held in memory only; True when nothing is left unsaved."""
        return self._persist() if self.unsaved else True

    def revoke(self, session: str, until: float, now: float) -> None:
        """Revoke ``session`` (kept until ``until``); forgets the ones past their time.
        Holds at once, even when it cannot be saved now (see the module docstring)."""
        for old, end in list(self.revoked.items()):
            if end < now:
                del self.revoked[old]
        self.revoked[session] = until
        self._persist()

    def is_revoked(self, session: str) -> bool:
        """True when ``session`` was logged out."""
        return session in self.revoked

    def disable(self, user: str, info: Disabled) -> None:
        """Refuse ``user`` from now on (logins, renewals, every token of theirs); holds at
        once, even when it cannot be saved now."""
        self.disabled[user] = info
        self._persist()

    def enable(self, user: str) -> bool:
        """Let ``user`` log in again; False when they were not disabled. Raises
        :class:`SessionsUnavailable` (and the user stays disabled) when it cannot be saved."""
        info = self.disabled.pop(user, None)
        if info is None:
            return False
        if not self._persist():
            self.disabled[user] = info
            raise SessionsUnavailable(f"cannot save that {user!r} is enabled: user still disabled")
        return True
