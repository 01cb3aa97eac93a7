"""The fields of a ``protocol: sparkplug`` device and its tags (pure: no paho, no protobuf).

::

    devices:
      - name: site-b
        protocol: sparkplug
        broker: mqtt://mqtt.example.com:1883    # mqtts:// for TLS
        group: site-b                           # the edge node's group id
        edge_node: gateway-1                    # its edge node id
        device: plc7                            # its device ("" or absent: node metrics)
        stale_after: 30                         # seconds of silence: UNCERTAIN (0: off)
        username: hmi-site-a                    # MQTT credentials, the password from a
        password_file: secrets/mqtt.password    #   file or password_env, never here
        tls: {ca_file: certs/ca.pem}
    tags:
      - {name: siteb/plc7/temp, device: site-b, address: temp, type: float64}

A tag's ``address`` is the metric's name as the edge node's births give it.
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
from hmi.project.secrets import Secret, read_secret_fields
from hmi.project.sparkplug_section import read_tls_fields

PROTOCOL = "sparkplug"
_BROKER = re.compile(r"^mqtts?://[^\s:/@]+(:\d{1,5})?/?$")
_ID = re.compile(r"^[^/+#\s]{1,128}$")


@dataclasses.dataclass(frozen=True, slots=True)
class SparkplugDevice:
    """Where one foreign edge node (or one of its devices) is (``DeviceConfig.settings``)."""

    broker: str
    group: str
    edge_node: str
    #: "" for the edge node's own metrics
    device: str = ""
    stale_after: float = 0.0
    client_id: str = ""
    username: str = ""
    password: Secret = dataclasses.field(default_factory=Secret)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def to_fields(self) -> dict[str, Any]:
        """The project-file fields of these settings."""
        data: dict[str, Any] = {
            "broker": self.broker,
            "group": self.group,
            "edge_node": self.edge_node,
        }
        for key in ("device", "client_id", "username"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.stale_after:
            data["stale_after"] = self.stale_after
        if self.password.file is not None:
            data["password_file"] = str(self.password.file)
        if self.password.env:
            data["password_env"] = self.password.env
        tls = {
            k: str(v)
            for k, v in (
                ("ca_file", self.ca_file),
                ("cert_file", self.cert_file),
                ("key_file", self.key_file),
            )
            if v is not None
        }
        if tls:
            data["tls"] = tls
        return data


def read_sparkplug_device(f: Fields, base: DeviceConfig) -> DeviceConfig | None:
    """``base`` with the Sparkplug settings of device mapping ``f``."""
    folder = Path(f.ctx.file).parent
    ok = True

    def error(key: str, message: str) -> None:
        nonlocal ok
        f.invalid(key, message)
        ok = False

    broker = f.text("broker")
    if broker is not None and not _BROKER.match(broker):
        error("broker", f"expected mqtt://HOST:PORT or mqtts://HOST:PORT, found {broker!r}")
    ids: dict[str, str | None] = {}
    for key, default in (("group", None), ("edge_node", None), ("device", "")):
        value = f.text(key) if default is None else f.text(key, default)
        if value and not _ID.match(value):
            error(key, f"1 to 128 characters, none of / + # or spaces; found {value!r}")
        ids[key] = value
    stale_after = f.number("stale_after", 0.0)
    if stale_after is not None and not 0 <= stale_after <= 86_400:
        error("stale_after", "expected 0 (off) to 86400 seconds")
    client_id = f.text("client_id", "")
    username = f.text("username", "")
    password = read_secret_fields(f, folder)
    tls = read_tls_fields(f, folder)
    if isinstance(tls, tuple) and any(tls) and broker and broker.startswith("mqtt://"):
        error("tls", "TLS files need an mqtts:// broker")
    values = (broker, *ids.values(), stale_after, client_id, username, password)
    if not ok or tls is False or any(v is None for v in values):
        return None
    assert isinstance(tls, tuple) and isinstance(password, Secret)
    settings = SparkplugDevice(
        broker=broker,
        group=str(ids["group"]),
        edge_node=str(ids["edge_node"]),
        device=str(ids["device"]),
        stale_after=stale_after,
        client_id=client_id,
        username=username,
        password=password,
        ca_file=tls[0],
        cert_file=tls[1],
        key_file=tls[2],
    )
    return dataclasses.replace(base, settings=settings)


def read_sparkplug_address(f: Fields, data_type: DataType | None) -> ProtocolAddress | None:
    """The metric a tag is: its ``address`` (the metric's name in the births). Every
    tag type has a Sparkplug datatype, so ``data_type`` needs no check."""
    metric = f.text("address")
    if metric is None:
        return None
    if len(metric) > 1024 or metric != metric.strip():
        f.invalid("address", "expected a metric's name")
        return None
    return ProtocolAddress(PROTOCOL, metric)
