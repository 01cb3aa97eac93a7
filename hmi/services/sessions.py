"""What the security service must not forget across a restart: the sessions logged out
(until no token of theirs can be live) and the users disabled (until enabled again).

Kept in a small JSON file in the backend's data folder, rewritten atomically (a new file,
then a rename) at every change; without a path (tests, a demo) it lives in memory only.
A file that cannot be read is an error at start, never an empty state: forgetting a
revocation would let a logged-out session write again.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: the file's layout; a later one is refused rather than misread
VERSION = 1


class SessionStateError(ValueError):
    """The state file cannot be used; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class Disabled:
    """Why and since when a user may not log in or act."""

    by: str
    since: float
    reason: str = ""


class SessionLedger:
    """Revoked sessions and disabled users, saved to ``path`` when one is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        #: revoked session -> when it may be forgotten
        self.revoked: dict[str, float] = {}
        self.disabled: dict[str, Disabled] = {}
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
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)

    def revoke(self, session: str, until: float, now: float) -> None:
        """Revoke ``session`` (kept until ``until``); forgets the ones past their time."""
        for old, end in list(self.revoked.items()):
            if end < now:
                del self.revoked[old]
        self.revoked[session] = until
        self._save()

    def is_revoked(self, session: str) -> bool:
        """True when ``session`` was logged out."""
        return session in self.revoked

    def disable(self, user: str, info: Disabled) -> None:
        """Refuse ``user`` from now on (logins, renewals, every token of theirs)."""
        self.disabled[user] = info
        self._save()

    def enable(self, user: str) -> bool:
        """Let ``user`` log in again; False when they were not disabled."""
        if self.disabled.pop(user, None) is None:
            return False
        self._save()
        return True
