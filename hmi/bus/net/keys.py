"""CURVE key pairs: make, load, and the client side of a secure connection.

Files are ZeroMQ's certificate format (``NAME.key`` public, ``NAME.key_secret`` both), as
``zmq.auth.create_certificates`` writes them, so czmq and other bindings read them too.
A secret is never world-readable, not even for a moment: its file is created with mode
0600 (``zmq.auth`` writes with the umask's mode and would need a chmod afterwards).
"""

from __future__ import annotations

import datetime
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A CURVE key pair in Z85 text (40 characters each); ``secret`` may be empty."""

    public: str
    secret: str = ""

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh key pair."""
        public, secret = zmq.curve_keypair()
        return cls(public.decode("ascii"), secret.decode("ascii"))

    @classmethod
    def load(cls, path: Path | str) -> KeyPair:
        """Read ``NAME.key`` (public only) or ``NAME.key_secret`` (both)."""
        public, secret = zmq.auth.load_certificate(str(path))
        return cls(public.decode("ascii"), secret.decode("ascii") if secret else "")


_BANNER = """#   ****  Generated on {now} by hmi  ****
#   ZeroMQ CURVE {what} Certificate
#   {advice}

metadata
curve
"""
#: mode bits a secret key file must not have (group and others: nothing)
_NOT_PRIVATE = stat.S_IRWXG | stat.S_IRWXO


def create_keys(directory: Path | str, name: str) -> tuple[Path, Path]:
    """Write ``NAME.key`` and ``NAME.key_secret`` in ``directory``.

    The secret's file is created with mode 0600 (a temporary file in the same directory,
    renamed into place: never readable by others, never half-written) and checked after;
    an existing pair is replaced. Raises PermissionError when the file system does not
    keep the mode (the secret is removed again).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    public_key, secret_key = (k.decode("ascii") for k in zmq.curve_keypair())
    now = datetime.datetime.now()
    public = directory / f"{name}.key"
    secret = directory / f"{name}.key_secret"
    _write(
        public,
        _BANNER.format(now=now, what="Public", advice="Exchange securely.")
        + f'    public-key = "{public_key}"\n',
        0o644,
    )
    _write(
        secret,
        _BANNER.format(
            now=now, what="**Secret**", advice="DO NOT PROVIDE THIS FILE TO OTHER USERS."
        )
        + f'    public-key = "{public_key}"\n    secret-key = "{secret_key}"\n',
        0o600,
    )
    if os.name == "posix" and os.stat(secret).st_mode & _NOT_PRIVATE:
        secret.unlink()
        raise PermissionError(f"{secret}: the file system does not keep mode 0600")
    return public, secret


def _write(path: Path, text: str, mode: int) -> None:
    """Write ``path`` through a temporary file created with ``mode`` (never wider)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            if os.name == "posix":
                os.fchmod(out.fileno(), mode)  # the umask may have taken bits: exactly mode
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def public_key_of(text_or_path: str) -> str:
    """A Z85 public key given as text or as the path of a key file."""
    if len(text_or_path) == 40 and not os.path.exists(text_or_path):
        return text_or_path
    return KeyPair.load(text_or_path).public


@dataclass(frozen=True, slots=True)
class ClientKeys:
    """What a node needs to reach a CURVE broker: its pair and the broker's public key."""

    pair: KeyPair
    server_key: str

    def apply(self, socket: Any) -> None:
        """Make ``socket`` a CURVE client (before connect)."""
        socket.curve_publickey = self.pair.public.encode("ascii")
        socket.curve_secretkey = self.pair.secret.encode("ascii")
        socket.curve_serverkey = self.server_key.encode("ascii")
