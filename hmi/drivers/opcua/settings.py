"""The OPC UA fields of a project file: the device's endpoint and security, a tag's node.

Pure (no asyncua): ``hmi check`` reads them without loading the library. Every problem is
reported as ``file:line: field: message``. A password is never taken from the project
file: only the name of a file holding it, or of an environment variable.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from hmi.core.address import ProtocolAddress
from hmi.core.tag import DataType
from hmi.project.fields import Fields
from hmi.project.model import DeviceConfig
from hmi.project.paths import safe_resolve

PROTOCOL = "opcua"

#: ``opc.tcp://host:port[/path]``
#: what an OPC UA endpoint looks like (a device's ``endpoint``, ``hmi opcua browse``)
ENDPOINT = re.compile(r"^opc\.tcp://[^\s/:]+(:\d{1,5})?(/\S*)?$")
#: node ids as OPC UA writes them (Part 6, 5.3.1.10): optional namespace, then one identifier
NODE_ID = re.compile(
    r"^(?:(?:ns=\d{1,5}|nsu=[^;]+);)?"
    r"(?:i=\d{1,10}|s=.+|g=[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|b=[A-Za-z0-9+/=]+)$"
)
SECURITY_MODES = ("none", "sign", "sign-and-encrypt")
SECURITY_POLICIES = ("Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss")
DEADBAND_TYPES = ("absolute", "percent")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass(frozen=True, slots=True)
class OpcUaSettings:
    """How to reach and log in to one OPC UA server (``DeviceConfig.settings``)."""

    endpoint: str
    #: ``none``, ``sign`` or ``sign-and-encrypt``
    security: str = "none"
    policy: str = "Basic256Sha256"
    #: this client's certificate (DER or PEM) and private key (PEM), absolute paths
    certificate: Path | None = None
    private_key: Path | None = None
    #: the server's certificate; None: taken from its endpoint description
    server_certificate: Path | None = None
    #: the client's application URI (must be in its certificate); "": the certificate's
    application_uri: str = ""
    user: str = ""
    #: where the password is: a file (absolute path) or an environment variable's name
    password_file: Path | None = None
    password_env: str = ""
    #: the subscription's publishing interval (s); None: the fastest sampling interval
    publishing_interval: float | None = None
    #: the session's request timeout (s)
    request_timeout: float = 5.0

    def to_fields(self, folder: Path | None = None) -> dict[str, Any]:
        """The project-file fields of these settings (paths as absolute text)."""
        data: dict[str, Any] = {"endpoint": self.endpoint, "security": self.security}
        if self.security != "none":
            data["policy"] = self.policy
        for key in ("certificate", "private_key", "server_certificate", "password_file"):
            value = getattr(self, key)
            if value is not None:
                data[key] = str(value)
        for key in ("application_uri", "user", "password_env"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.publishing_interval is not None:
            data["publishing_interval"] = self.publishing_interval
        data["request_timeout"] = self.request_timeout
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class OpcUaTagOptions:
    """A tag's monitored item (``ProtocolAddress.options``)."""

    #: seconds between samples on the server; None: the tag's poll group period
    sampling_interval: float | None = None
    #: ``absolute`` (engineering units of the server's value) or ``percent`` (of EURange)
    deadband_type: str = "absolute"
    #: the server's queue for this item (1: the latest value only)
    queue_size: int = 1


def read_opcua_device(f: Fields, base: DeviceConfig) -> DeviceConfig | None:
    """``base`` with the OPC UA settings of device mapping ``f``."""
    folder = Path(f.ctx.file).parent
    ok = True

    def error(key: str, message: str) -> None:
        nonlocal ok
        f.invalid(key, message)
        ok = False

    endpoint = f.text("endpoint")
    if endpoint is not None and not ENDPOINT.match(endpoint):
        error("endpoint", f"expected opc.tcp://HOST:PORT[/PATH], found {endpoint!r}")
    security = f.choice("security", SECURITY_MODES, "none")
    policy = f.choice("policy", SECURITY_POLICIES, "Basic256Sha256")
    files: dict[str, Path | None] = {}
    for key in ("certificate", "private_key", "server_certificate", "password_file"):
        text = f.text(key, None)
        files[key] = None
        if text is None:
            continue
        # Made absolute, not required to exist: key and password files are deployed on
        # the node that connects, not on every machine that checks the project (as the
        # bus' CURVE keys). A missing one is the device's error when it connects.
        resolved, problem = safe_resolve(folder / text)
        if problem:
            error(key, problem)
        files[key] = resolved
    application_uri = f.text("application_uri", "")
    user = f.text("user", "")
    password_env = f.text("password_env", "")
    if f.has("password"):
        error(
            "password",
            "a password is never written in the project file: name a file holding it "
            "(password_file) or an environment variable (password_env)",
        )
    if password_env and not _ENV_NAME.match(password_env):
        error("password_env", f"expected an environment variable's name, found {password_env!r}")
    if files["password_file"] is not None and password_env:
        error("password_env", "give password_file or password_env, not both")
    has_password = files["password_file"] is not None or bool(password_env)
    if user and not has_password:
        error("user", "a user needs password_file or password_env")
    if has_password and not user:
        error("user", "a password needs a user")
    if security not in (None, "none"):
        for key in ("certificate", "private_key"):
            if not f.has(key):
                error(key, f"security {security} needs the client's {key.replace('_', ' ')} file")
    publishing = f.number("publishing_interval", None)
    if publishing is not None and not 0.01 <= publishing <= 3600:
        error("publishing_interval", f"expected 0.01..3600 seconds, found {publishing:g}")
    request_timeout = f.number("request_timeout", 5.0)
    if request_timeout is not None and not 0.1 <= request_timeout <= 600:
        error("request_timeout", f"expected 0.1..600 seconds, found {request_timeout:g}")
    values = (endpoint, security, policy, application_uri, user, password_env, request_timeout)
    if not ok or any(v is None for v in values):
        return None
    settings = OpcUaSettings(
        endpoint=endpoint,
        security=security,
        policy=policy,
        certificate=files["certificate"],
        private_key=files["private_key"],
        server_certificate=files["server_certificate"],
        application_uri=application_uri,
        user=user,
        password_file=files["password_file"],
        password_env=password_env,
        publishing_interval=publishing,
        request_timeout=request_timeout,
    )
    # An OPC UA connect (a secure channel, a session) takes longer than a Modbus request:
    # the common timeout (default 0.5 s) becomes the request timeout's unless given.
    timeout = base.timeout if f.has("timeout") else request_timeout
    return dataclasses.replace(base, settings=settings, timeout=timeout)


def read_opcua_address(f: Fields, data_type: DataType | None) -> ProtocolAddress | None:
    """The node id (``address``) and monitored-item fields of tag mapping ``f``."""
    ok = True

    def error(key: str, message: str) -> None:
        nonlocal ok
        f.invalid(key, message)
        ok = False

    node = f.text("address", None)
    if node is None:
        error("address", "an OPC UA tag needs a node id (e.g. ns=2;s=Line1.Temperature)")
    elif not NODE_ID.match(node.strip()):
        error(
            "address",
            f"malformed node id {node!r}: expected [ns=N;]i=NUMBER, s=TEXT, g=GUID or "
            "b=BASE64 (hmi opcua browse lists them)",
        )
    sampling = f.number("sampling_interval", None)
    if sampling is not None and not 0 <= sampling <= 3600:
        error("sampling_interval", f"expected 0..3600 seconds, found {sampling:g}")
    deadband_type = f.choice("deadband_type", DEADBAND_TYPES, "absolute")
    queue_size = f.integer("queue_size", 1, 1, 10000)
    if not ok or None in (node, deadband_type, queue_size):
        return None
    options = OpcUaTagOptions(sampling, deadband_type, queue_size)
    return ProtocolAddress(PROTOCOL, node.strip(), options)
