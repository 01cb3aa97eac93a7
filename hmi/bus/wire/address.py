"""Where the broker is: its two endpoints, and the state file it leaves for local nodes.

A broker has a *front* (ROUTER: nodes send everything there) and a *back* (XPUB: nodes
subscribe there). One address names both: ``tcp://host:5570`` means front port 5570 and
back port 5571; ``ipc:///run/hmi/bus`` means ``ipc:///run/hmi/bus.front`` and ``.back``.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_ADDRESS = "tcp://127.0.0.1:5570"
STATE_ENV = "HMI_STATE_DIR"
#: the scheme of a node's stream endpoint (hmi.bus.net.rpcstream): an abstract Unix socket,
#: its name after the ``@``
STREAM_SCHEME = "unix:@"
#: the one form of a stream endpoint, never another name (a node that named another
#: program's socket would have callers write to it)
_STREAM_ENDPOINT = re.compile(r"unix:@hmi-rpc-[0-9a-f]{32}")


def new_stream_endpoint() -> str:
    """A fresh stream endpoint name (``unix:@hmi-rpc-<32 hex digits>``)."""
    return f"{STREAM_SCHEME}hmi-rpc-{uuid.uuid4().hex}"


def is_stream_endpoint(text: str) -> bool:
    """``text`` is a stream endpoint, of the form :func:`new_stream_endpoint` makes."""
    return _STREAM_ENDPOINT.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """The endpoints of one broker, and its CURVE public key (Z85) when it has one."""

    front: str
    back: str
    server_key: str = ""

    @classmethod
    def parse(cls, text: str, server_key: str = "") -> BrokerAddress:
        """``tcp://host:port`` (back is port + 1) or ``ipc://path`` (``.front``/``.back``)."""
        text = text.strip()
        if text.startswith("tcp://"):
            host, sep, port = text[len("tcp://") :].rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65535:
                raise ValueError(f"broker address {text!r}: expected tcp://HOST:PORT")
            return cls(f"tcp://{host}:{port}", f"tcp://{host}:{int(port) + 1}", server_key)
        if text.startswith("ipc://") and len(text) > len("ipc://"):
            return cls(f"{text}.front", f"{text}.back", server_key)
        raise ValueError(f"broker address {text!r}: expected tcp://HOST:PORT or ipc://PATH")

    def with_host(self, host: str) -> BrokerAddress:
        """The same ports on ``host`` (a broker bound to ``*`` found by discovery)."""
        if not self.front.startswith("tcp://"):
            return self

        def swap(endpoint: str) -> str:
            _, _, port = endpoint.rpartition(":")
            return f"tcp://{host}:{port}"

        return BrokerAddress(swap(self.front), swap(self.back), self.server_key)

    @property
    def connectable(self) -> BrokerAddress:
        """Bind addresses (``*``, ``0.0.0.0``) turned into ones a local node can connect to."""
        for wildcard in ("tcp://*:", "tcp://0.0.0.0:"):
            if self.front.startswith(wildcard):
                return self.with_host("127.0.0.1")
        return self


def state_dir() -> Path:
    """``$HMI_STATE_DIR``, else ``$XDG_RUNTIME_DIR/hmi``, else ``~/.cache/hmi``."""
    if env := os.environ.get(STATE_ENV):
        return Path(env)
    if runtime := os.environ.get("XDG_RUNTIME_DIR"):
        return Path(runtime) / "hmi"
    return Path.home() / ".cache" / "hmi"


def state_file() -> Path:
    """The file a running broker describes itself in (for nodes on the same machine)."""
    return state_dir() / "broker.json"


def write_state(address: BrokerAddress, broker_id: str, path: Path | None = None) -> Path:
    """Write the broker's state file (atomically: a half-written file is never read)."""
    path = path or state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    connectable = address.connectable
    data = {**asdict(connectable), "pid": os.getpid(), "id": broker_id}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)
    return path


def remove_state(broker_id: str, path: Path | None = None) -> None:
    """Remove the state file if it is still ours (a newer broker may have replaced it)."""
    path = path or state_file()
    try:
        if json.loads(path.read_text()).get("id") == broker_id:
            path.unlink()
    except (OSError, ValueError):
        pass


def read_state(path: Path | None = None) -> BrokerAddress | None:
    """The address in the state file if the broker that wrote it still runs, else None."""
    path = path or state_file()
    try:
        data = json.loads(path.read_text())
        pid = int(data["pid"])
        address = BrokerAddress(str(data["front"]), str(data["back"]), str(data["server_key"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except (ProcessLookupError, OverflowError, ValueError):
        return None
    except PermissionError:
        pass  # exists, owned by someone else
    return address
