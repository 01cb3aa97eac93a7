"""The ``sparkplug:`` section: the plant's tags published as a Sparkplug B edge node.

::

    sparkplug:
      broker: mqtt://mqtt.example.com:1883     # mqtts://HOST:8883 for TLS
      group: site-a                            # Sparkplug group id
      edge_node: control-room                  # edge node id
      device: plant                            # the device that carries the tags (default)
      tags: ["area1/*"]                        # which tags (fnmatch patterns; default all)
      username: site-a                         # MQTT credentials: the password from a
      password_file: secrets/mqtt.password     #   file (relative to the project) or
      # password_env: HMI_MQTT_PASSWORD        #   an environment variable, never argv
      tls: {ca_file: certs/ca.pem, cert_file: certs/site-a.pem, key_file: certs/site-a.key}
      commands:                                # DCMD writes; absent: every DCMD refused
        user: mqtt-host                        # a user of users:, whose roles decide
        password_file: secrets/mqtt-host.password

Every problem is reported with its file, line and field; secret files are named here and
read when the service starts.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from hmi.project.fields import Fields
from hmi.project.paths import safe_resolve
from hmi.project.secrets import Secret, read_secret_fields

#: what the drivers' MQTT link accepts (it parses the details)
_BROKER = re.compile(r"^mqtts?://[^\s:/@]+(:\d{1,5})?/?$")
#: a Sparkplug id: no MQTT separator or wildcard (hmi.drivers.sparkplug.topics.ID)
_ID = re.compile(r"^[^/+#\s]{1,128}$")


@dataclass(frozen=True, slots=True)
class SparkplugConfig:
    """A validated ``sparkplug:`` section."""

    broker: str
    group: str
    edge_node: str
    device: str = "plant"
    #: fnmatch patterns of the tags published
    tags: tuple[str, ...] = ("*",)
    client_id: str = ""
    username: str = ""
    password: Secret = field(default_factory=Secret)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive: int = 30
    #: the user DCMD writes are made as ("": every DCMD is refused), and its password
    command_user: str = ""
    command_password: Secret = field(default_factory=Secret)
    line: int = 0

    def selects(self, tag: str) -> bool:
        """True when ``tag`` is published."""
        return any(fnmatch.fnmatchcase(tag, pattern) for pattern in self.tags)


def read_sparkplug(
    top: Fields, folder: Path, tags: Collection[str], users: Collection[str]
) -> SparkplugConfig | None:
    """The ``sparkplug`` section; None when absent or unusable (its errors recorded)."""
    section = top.mapping("sparkplug")
    if section is None:
        return None
    ctx = section.ctx

    def error(key: str, message: str) -> None:
        ctx.error(section.node_of(key) or section.node, f"{section.path}.{key}", message)

    ok = True
    broker = section.text("broker")
    if broker is not None and not _BROKER.match(broker):
        error("broker", f"expected mqtt://HOST:PORT or mqtts://HOST:PORT, found {broker!r}")
        ok = False
    ids = {}
    for key, default in (("group", None), ("edge_node", None), ("device", "plant")):
        value = section.text(key) if default is None else section.text(key, default)
        if value is not None and not _ID.match(value):
            error(key, f"1 to 128 characters, none of / + # or spaces; found {value!r}")
            value = None
        ids[key] = value
    patterns = section.text_list("tags", ["*"])
    for pattern in patterns or ():
        if not any(fnmatch.fnmatchcase(tag, pattern) for tag in tags):
            error("tags", f"{pattern!r} matches no tag of the project")
            ok = False
    client_id = section.text("client_id", "")
    username = section.text("username", "")
    keepalive = section.integer("keepalive", 30, 5, 3600)
    password = read_secret_fields(section, folder)
    tls = read_tls_fields(section, folder)
    if isinstance(tls, tuple) and any(tls) and broker and broker.startswith("mqtt://"):
        error("tls", "TLS files need an mqtts:// broker")
        ok = False
    commands = section.mapping("commands")
    user = ""
    command_password: Secret | None = Secret()
    if commands is not None:
        user = commands.text("user")
        command_password = read_secret_fields(commands, folder)
        commands.finish()
        if user is not None and user not in users:
            commands.ctx.error(
                commands.node_of("user"), f"{commands.path}.user", f"unknown user {user!r}"
            )
            ok = False
        elif command_password is not None and not command_password.given:
            commands.ctx.error(
                commands.node,
                f"{commands.path}.password_file",
                "the user's password is needed: password_file or password_env",
            )
            ok = False
    elif section.has("commands"):
        ok = False
    section.finish()
    values = (broker, *ids.values(), patterns, client_id, username, keepalive, password, user)
    if not ok or tls is False or command_password is None or any(v is None for v in values):
        return None
    assert isinstance(password, Secret) and isinstance(tls, tuple)
    return SparkplugConfig(
        broker=broker,
        group=ids["group"],
        edge_node=ids["edge_node"],
        device=ids["device"],
        tags=tuple(patterns),
        client_id=client_id,
        username=username,
        password=password,
        ca_file=tls[0],
        cert_file=tls[1],
        key_file=tls[2],
        keepalive=keepalive,
        command_user=user,
        command_password=command_password,
        line=top.line_of("sparkplug"),
    )


def read_tls_fields(
    section: Fields, folder: Path
) -> tuple[Path | None, Path | None, Path | None] | bool:
    """``tls: {ca_file, cert_file, key_file}`` made absolute; False when unusable."""
    tls = section.mapping("tls")
    if tls is None:
        return False if section.has("tls") else (None, None, None)
    paths: list[Path | None] = []
    ok = True
    for key in ("ca_file", "cert_file", "key_file"):
        name = tls.text(key, "")
        if name is None:
            ok = False
            paths.append(None)
            continue
        path = None
        if name:
            path, problem = safe_resolve(folder / name)
            if problem:
                tls.ctx.error(tls.node_of(key), f"{tls.path}.{key}", problem)
                ok = False
        paths.append(path)
    tls.finish()
    if (paths[1] is None) != (paths[2] is None):
        tls.ctx.error(tls.node, f"{tls.path}.key_file", "cert_file and key_file go together")
        ok = False
    return (paths[0], paths[1], paths[2]) if ok else False
