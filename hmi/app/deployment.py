"""Where a node's broker is and how it proves who it is: the project's ``bus:`` section,
overridden by the environment, overridden by flags.

Every command resolves its :class:`Deployment` here, so the same project file describes
the whole control room and each process only names itself (``--name``)::

    bus:
      mode: broker                       # hmi run joins the broker (local: one process)
      broker: tcp://127.0.0.1:5570
      heartbeat_interval: 1.0
      discovery: false
      max_cache_entries: 250000          # the broker's bounds (hmi broker only; see
      forget_after: 3600                 # docs/bus-protocol.md, "Bounds")
      curve:
        broker_key: keys/broker.key      # the broker's public key
        node_key: keys/{name}.key_secret # each node's key pair; {name} = --name
        clients: keys/clients.yaml       # the broker's policy (hmi broker only)

Precedence, highest first: a flag (``--broker``, ``--key``, ``--broker-key``,
``--heartbeat``, ``--local``), the environment (:data:`BROKER_ENV`, :data:`KEY_ENV`,
:data:`BROKER_KEY_ENV`, :data:`MODE_ENV`), the project file. Secrets are only ever named
by file, never given on the command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hmi.bus.net.keys import ClientKeys, KeyPair
from hmi.bus.wire.address import BrokerAddress
from hmi.project import Project

BROKER_ENV = "HMI_BROKER"
#: ``local`` or ``broker``: overrides the project's ``bus.mode`` (a launch file sets it)
MODE_ENV = "HMI_BUS_MODE"
#: this node's CURVE key pair file (NAME.key_secret)
KEY_ENV = "HMI_KEY"
#: the broker's public key file (NAME.key)
BROKER_KEY_ENV = "HMI_BROKER_KEY"


class DeploymentError(ValueError):
    """The deployment cannot be used as described; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Deployment:
    """How one process joins its plant."""

    #: the node's name: its bus name, its key file's {name}, the RPC target of its drivers
    name: str
    #: True: everything in this process (in-memory bus, no broker)
    local: bool
    #: the broker's front address; None: discovery (when on), the state file, the default
    broker: str | None = None
    discovery: bool = True
    heartbeat: float = 1.0
    #: the CURVE keys (None: plain TCP)
    keys: ClientKeys | None = None
    #: the files the keys came from, for messages
    key_file: Path | None = None
    broker_key_file: Path | None = None

    def describe(self) -> str:
        """One line for the operator or the log: where and how this node connects."""
        if self.local:
            return "local bus (one process)"
        where = self.broker or ("discovery" if self.discovery else "the default broker")
        curve = f", CURVE key {self.key_file}" if self.key_file else ", plain TCP"
        return f"broker {where}{curve}"


def _where(project: Project | None, field: str) -> str:
    if project is None:
        return field
    return f"{project.path}:{project.bus.line_of(field)}: bus.{field}"


def resolve(
    project: Project | None,
    *,
    name: str,
    broker: str | None = None,
    local: bool | None = None,
    key: Path | None = None,
    broker_key: Path | None = None,
    heartbeat: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> Deployment:
    """The deployment of node ``name``: flags (the keyword arguments) over the environment
    over ``project``'s ``bus:`` section.

    ``local``: True forces the in-process bus, False forces the broker, None follows the
    project's ``mode`` (a broker address from a flag or the environment means the broker).
    Raises :class:`DeploymentError` for an address or key file that cannot be used.
    """
    env = os.environ if environ is None else environ
    config = project.bus if project is not None else None
    address = broker or env.get(BROKER_ENV) or (config.broker if config else "") or None
    mode = env.get(MODE_ENV, "")
    if mode not in ("", "local", "broker"):
        raise DeploymentError(f"${MODE_ENV}: expected local or broker, found {mode!r}")
    if local is None and mode:
        local = mode == "local"
    if local is None:
        explicit = bool(broker or env.get(BROKER_ENV))
        local = not explicit and (config is None or config.mode == "local")
    heartbeat = (
        heartbeat if heartbeat is not None else (config.heartbeat_interval if config else 1.0)
    )
    if local:
        return Deployment(name=name, local=True, heartbeat=heartbeat)
    if address is not None:
        try:
            BrokerAddress.parse(address)
        except ValueError as exc:
            raise DeploymentError(f"broker address {address!r}: {exc}") from None
    key_path, key_origin = _pick(key, "--key", env.get(KEY_ENV), KEY_ENV)
    server_path, server_origin = _pick(
        broker_key, "--broker-key", env.get(BROKER_KEY_ENV), BROKER_KEY_ENV
    )
    curve = config.curve if config is not None else None
    if curve is not None:
        if key_path is None:
            key_path, key_origin = curve.node_key_for(name), _where(project, "curve.node_key")
        if server_path is None:
            server_path, server_origin = curve.broker_key, _where(project, "curve.broker_key")
    keys = None
    if key_path is not None or server_path is not None:
        if key_path is None or server_path is None:
            missing = (
                "this node's key pair (--key)"
                if key_path is None
                else "the broker's public key (--broker-key)"
            )
            raise DeploymentError(f"CURVE needs both key files: {missing} is not named")
        pair = _load(key_path, key_origin, name, secret=True)
        server = _load(server_path, server_origin, "broker", secret=False)
        keys = ClientKeys(pair, server.public)
    return Deployment(
        name=name,
        local=False,
        broker=address,
        discovery=config.discovery if config is not None else True,
        heartbeat=heartbeat,
        keys=keys,
        key_file=key_path,
        broker_key_file=server_path,
    )


def _pick(
    flag: Path | None, flag_name: str, env: str | None, env_name: str
) -> tuple[Path | None, str]:
    if flag is not None:
        return flag, flag_name
    if env:
        return Path(env), f"${env_name}"
    return None, ""


def _load(path: Path, origin: str, owner: str, *, secret: bool) -> KeyPair:
    """A key file, or a DeploymentError that says which setting named it and what to do."""
    if not path.is_file():
        hint = f" (make it with: hmi keys generate {path.name.split('.')[0]} --dir {path.parent})"
        raise DeploymentError(f"{origin}: {path}: no such key file{hint}")
    try:
        pair = KeyPair.load(path)
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"{origin}: {path}: not a key file: {exc}") from None
    if secret and not pair.secret:
        raise DeploymentError(
            f"{origin}: {path}: holds only a public key; {owner} needs its key pair "
            "(the NAME.key_secret file)"
        )
    return pair
