"""CURVE key pairs: make, load, and the client side of a secure connection.

Files are ZeroMQ's certificate format (``NAME.key`` public, ``NAME.key_secret`` both), as
``zmq.auth.create_certificates`` writes them, so czmq and other bindings read them too.
"""

from __future__ import annotations

import os
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


def create_keys(directory: Path | str, name: str) -> tuple[Path, Path]:
    """Write ``NAME.key`` and ``NAME.key_secret`` in ``directory`` (secret mode 0600)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(directory), name)
    os.chmod(secret, 0o600)
    return Path(public), Path(secret)


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
