"""Who may connect to a CURVE broker, and what each key may publish.

The policy file (YAML)::

    clients:
      - name: driver-line1
        key: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"   # Z85 public key, or key_file:
        publish: ["tag/line1/", "result/", "alarm/"]
      - name: hmi-1
        key_file: keys/hmi-1.key
        publish: ["cmd/", "rpc/"]

A key not listed cannot connect (ZAP denies it, counted); a listed key publishing outside
its prefixes is refused and counted, never delivered.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
import zmq
from zmq.utils import z85

from hmi.bus.keys import public_key_of
from hmi.bus.zmqio import Reader

log = logging.getLogger(__name__)

ZAP_ENDPOINT = "inproc://zeromq.zap.01"


@dataclass(frozen=True, slots=True)
class ClientRule:
    """One admitted key: a name for humans and the topic prefixes it may publish."""

    name: str
    key: str
    publish: tuple[str, ...]

    def may_publish(self, topic: str) -> bool:
        """True when ``topic`` starts with one of the allowed prefixes."""
        return topic.startswith(self.publish)


class Policy:
    """The admitted keys and their publish rights."""

    def __init__(self, rules: list[ClientRule]) -> None:
        self.rules = {rule.key: rule for rule in rules}

    @classmethod
    def load(cls, path: Path | str) -> Policy:
        """Read a policy file (see the module docstring); key files are relative to it."""
        path = Path(path)
        data = yaml.safe_load(path.read_text()) or {}
        rules = []
        for i, item in enumerate(data.get("clients", [])):
            if not isinstance(item, dict):
                raise ValueError(f"{path}: clients[{i}] must be a map")
            if "key" in item:
                key = public_key_of(str(item["key"]))
            elif "key_file" in item:
                key_file = path.parent / str(item["key_file"])
                if not key_file.is_file():
                    name = item.get("name", f"client{i}")
                    raise ValueError(
                        f"{path}: clients[{i}] ({name}): key_file {key_file}: no such file "
                        f"(hmi keys generate {key_file.stem} --dir {key_file.parent})"
                    )
                key = public_key_of(str(key_file))
            else:
                raise ValueError(f"{path}: clients[{i}] needs key or key_file")
            publish = item.get("publish", [])
            if not isinstance(publish, list) or not all(isinstance(p, str) for p in publish):
                raise ValueError(f"{path}: clients[{i}].publish must be a list of prefixes")
            rules.append(ClientRule(str(item.get("name", f"client{i}")), key, tuple(publish)))
        return cls(rules)

    def rule(self, key: str) -> ClientRule | None:
        """The rule of an admitted key, or None."""
        return self.rules.get(key)


class ZapHandler:
    """ZeroMQ's authentication protocol (RFC 27) answered from a :class:`Policy`."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], policy: Policy) -> None:
        self.policy = policy
        self.counts: Counter[str] = Counter()
        self._sock = ctx.socket(zmq.REP)
        self._sock.linger = 0
        self._sock.bind(ZAP_ENDPOINT)
        self._reader: Reader | None = None

    def start(self) -> None:
        """Answer requests from the running loop."""
        self._reader = Reader(self._sock, self._serve)
        self._reader.start()

    def _serve(self, request: list[bytes]) -> None:
        self._sock.send_multipart(self._answer(request))
        if self._reader is not None:
            self._reader.kick()

    def _answer(self, request: list[bytes]) -> list[bytes]:
        if len(request) < 6:
            return [b"1.0", b"", b"500", b"malformed", b"", b""]
        version, request_id, _domain, address, _identity, mechanism = request[:6]
        credentials = request[6:]
        if mechanism == b"CURVE" and len(credentials) == 1 and len(credentials[0]) == 32:
            key = z85.encode(credentials[0]).decode("ascii")
            rule = self.policy.rule(key)
            if rule is not None:
                self.counts["admitted"] += 1
                return [version, request_id, b"200", b"OK", key.encode(), b""]
            log.warning("refused unknown key %s from %s", key, address.decode(errors="replace"))
        self.counts["refused"] += 1
        return [version, request_id, b"400", b"not admitted", b"", b""]

    def close(self) -> None:
        """Stop answering and close the socket."""
        if self._reader is not None:
            self._reader.close()
        self._sock.close()


def user_key(frame: Any) -> str:
    """The CURVE public key (set by :class:`ZapHandler`) of a message frame, or ''."""
    try:
        return str(frame.get("User-Id"))
    except (zmq.ZMQError, KeyError, AttributeError):
        return ""
