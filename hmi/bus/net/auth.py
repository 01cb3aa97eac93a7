"""Who may connect to a CURVE broker, and what each key may publish, call and serve.

The policy file (YAML)::

    clients:
      - name: driver-line1
        key: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"   # Z85 public key, or key_file:
        publish: ["tag/line1/", "result/", "rpc/security"]  # topic prefixes (rpc/<target>: calls)
        serve: ["driver-line1"]                            # RPC targets it may expose
      - name: hmi-1
        key_file: keys/hmi-1.key
        publish: ["cmd/", "rpc/"]                          # no serve: it exposes nothing

A key not listed cannot connect (ZAP denies it, counted); a listed key publishing or
calling outside its prefixes, or exposing a target outside its ``serve`` list, is refused
and counted, never delivered. A ``serve`` entry is a target name, or a prefix ending in
``*`` (``"line1-*"``; ``"*"`` alone: any name).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
import zmq
from zmq.utils import z85

from hmi.bus.net.keys import public_key_of
from hmi.bus.net.zmqio import Reader
from hmi.bus.wire.throttle import Throttle

log = logging.getLogger(__name__)

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
#: the fields of one client entry of a policy file
FIELDS = ("name", "key", "key_file", "publish", "serve")


@dataclass(frozen=True, slots=True)
class ClientRule:
    """One admitted key: a name for humans, the topic prefixes it may publish (and call:
    ``rpc/<target>``), and the RPC targets it may serve (exposes)."""

    name: str
    key: str
    publish: tuple[str, ...]
    serve: tuple[str, ...] = ()

    def may_publish(self, topic: str) -> bool:
        """True when ``topic`` starts with one of the allowed prefixes."""
        return topic.startswith(self.publish)

    def may_serve(self, target: str) -> bool:
        """True when ``target`` is one of the served names, or starts with the part
        before the ``*`` of a served prefix."""
        return serves(self.serve, target)


def serves(entries: Iterable[str], target: str) -> bool:
    """True when a ``serve`` list (names, and prefixes ending in ``*``) covers ``target``:
    the broker's check, and a node's own of the rights its welcome told."""
    for entry in entries:
        if entry.endswith("*") and target.startswith(entry[:-1]):
            return True
        if entry == target:
            return True
    return False


class Policy:
    """The admitted keys and their rights."""

    def __init__(self, rules: list[ClientRule]) -> None:
        self.rules = {rule.key: rule for rule in rules}

    @classmethod
    def load(cls, path: Path | str) -> Policy:
        """Read a policy file (see the module docstring); key files are relative to it.

        Raises ValueError naming the file and the entry (``clients[2] (station-2)``) for
        anything it cannot use: unreadable YAML, unknown fields, a missing key file,
        rights that are not lists of text, one key listed twice.
        """
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise ValueError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
        if data is None:
            data = {}
        if not isinstance(data, dict) or not isinstance(data.get("clients", []), list):
            raise ValueError(f"{path}: expected a map with a list of clients (clients: [...])")
        rules: list[ClientRule] = []
        seen: dict[str, str] = {}
        for i, item in enumerate(data.get("clients", [])):
            rule = _rule(path, i, item)
            if rule.key in seen:
                raise ValueError(
                    f"{path}: clients[{i}] ({rule.name}): the same key as {seen[rule.key]}"
                )
            seen[rule.key] = f"clients[{i}] ({rule.name})"
            rules.append(rule)
        return cls(rules)

    def rule(self, key: str) -> ClientRule | None:
        """The rule of an admitted key, or None."""
        return self.rules.get(key)


def _rule(path: Path, i: int, item: Any) -> ClientRule:
    """Client entry ``i`` of the policy file ``path``."""
    if not isinstance(item, dict):
        raise ValueError(f"{path}: clients[{i}] must be a map")
    name = str(item.get("name", f"client{i}"))
    entry = f"{path}: clients[{i}] ({name})"
    unknown = sorted(str(field) for field in item if field not in FIELDS)
    if unknown:
        raise ValueError(f"{entry}: unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})")
    if "key" in item:
        try:
            key = public_key_of(str(item["key"]))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{entry}: key: {exc}") from None
    elif "key_file" in item:
        key_file = path.parent / str(item["key_file"])
        if not key_file.is_file():
            raise ValueError(
                f"{entry}: key_file {key_file}: no such file "
                f"(hmi keys generate {key_file.stem} --dir {key_file.parent})"
            )
        try:
            key = public_key_of(str(key_file))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{entry}: key_file {key_file}: {exc}") from None
    else:
        raise ValueError(f"{path}: clients[{i}] needs key or key_file")
    rights = {}
    for field, what in (("publish", "topic prefixes"), ("serve", "RPC target names")):
        value = item.get(field, [])
        if value is None:
            value = []
        # (an empty publish prefix is every topic; an empty target name is none at all)
        if not isinstance(value, list) or not all(
            isinstance(v, str) and (v or field == "publish") for v in value
        ):
            raise ValueError(f"{entry}: {field} must be a list of {what} (texts)")
        rights[field] = tuple(value)
    return ClientRule(name, key, rights["publish"], rights["serve"])


class ZapHandler:
    """ZeroMQ's authentication protocol (RFC 27) answered from a :class:`Policy`."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], policy: Policy) -> None:
        self.policy = policy
        self.counts: Counter[str] = Counter()
        #: one line per unknown key and address every LOG_EVERY seconds: a node meets the
        #: front and the back (two handshakes, two requests), and an attacker may retry
        #: in a loop
        self._throttle = Throttle()
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
            where = address.decode(errors="replace")
            more = self._throttle(f"{key} {where}", time.monotonic())
            if more is not None:
                log.warning("refused unknown key %s from %s%s", key, where, more)
        self.counts["refused"] += 1
        return [version, request_id, b"400", b"not admitted", b"", b""]

    def close(self) -> None:
        """Stop answering and close the socket."""
        if self._reader is not None:
            self._reader.close()
        self._sock.close()
