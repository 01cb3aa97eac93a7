"""The plant published as a Sparkplug B edge node, seen and commanded by a host we did not
write (Eclipse Tahu's JavaScript codec over the npm ``mqtt`` client) through Mosquitto.

The whole backend runs as ``hmi demo`` runs it (simulated plant, drivers, security,
audit, the edge node of the project's ``sparkplug:`` section); the host decodes births and
data, sends DCMD writes (one the service user may make, one it may not) and asks for a
rebirth; the audit trail has a row for each write, in the service user's name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from hmi.core.passwords import hash_password
from hmi.testing_backend import serve_backend
from tests.sparkplug.peers import ROOT, metrics_of, mosquitto, tahu_host

GROUP, EDGE, DEVICE = "site-a", "control-room", "plant"
NBIRTH = f"spBv1.0/{GROUP}/NBIRTH/{EDGE}"
DBIRTH = f"spBv1.0/{GROUP}/DBIRTH/{EDGE}/{DEVICE}"
DDATA = f"spBv1.0/{GROUP}/DDATA/{EDGE}/{DEVICE}"
NDEATH = f"spBv1.0/{GROUP}/NDEATH/{EDGE}"
HOST_PASSWORD = "mqtt-host-secret"


def sparkplug_project(folder: Path, broker_url: str, *, commands: bool = True) -> Path:
    """The demo plant with a ``sparkplug:`` section, and the service user ``mqtt-host``
    (role operator) whose password is in ``folder/secrets``."""
    data = yaml.safe_load((ROOT / "examples" / "demo-plant.yaml").read_text())
    section: dict[str, Any] = {"broker": broker_url, "group": GROUP, "edge_node": EDGE}
    if commands:
        (folder / "secrets").mkdir()
        (folder / "secrets" / "mqtt-host.password").write_text(HOST_PASSWORD + "\n")
        section["commands"] = {
            "user": "mqtt-host",
            "password_file": "secrets/mqtt-host.password",
        }
        data["users"].append(
            {
                "name": "mqtt-host",
                "full_name": "Enterprise MQTT host",
                "roles": ["operator"],
                "password_hash": hash_password(HOST_PASSWORD, os.urandom(16)),
            }
        )
    data["sparkplug"] = section
    path = folder / "plant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def audit_rows(backend: Any, tag: str, token: str) -> list[dict[str, Any]]:
    rows = backend.call("audit", "recent", 500, token=token)
    return [r for r in rows if r["target"] == tag and r["action"] == "write"]


def wait_rows(backend: Any, tag: str, outcome: str) -> dict[str, Any]:
    """The audit row of ``tag`` with ``outcome``, as an engineer reads the audit trail (the
    backend's thread writes it: polled, bounded)."""
    import time

    token = backend.login("engineer", "demo-engineer")
    deadline = time.monotonic() + 10
    while True:
        rows = audit_rows(backend, tag, token)
        for row in rows:
            if row["outcome"] == outcome:
                return row
        if time.monotonic() > deadline:
            raise AssertionError(f"no audit row {outcome} for {tag}: {rows}")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_foreign_host_sees_births_data_and_writes_through_the_audit(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:
        host = tahu_host(broker, GROUP, tmp_path / "host.log")
        try:
            project = sparkplug_project(tmp_path, broker.url)
            with serve_backend(project, tmp_path / "data") as backend:
                nbirth = host.expect(lambda m: m.get("topic") == NBIRTH)
                assert nbirth["payload"]["seq"] == 0
                node_metrics = metrics_of(nbirth)
                bdseq = node_metrics["bdSeq"]["value"]
                assert node_metrics["Node Control/Rebirth"]["value"] is False

                dbirth = host.expect(lambda m: m.get("topic") == DBIRTH)
                assert dbirth["payload"]["seq"] == 1
                births = metrics_of(dbirth)
                assert len(births) == 27  # every tag of the demo plant
                level = births["area1/t101/level"]
                assert level["type"] == "Float" and level["alias"] >= 1
                sp_alias = births["area1/lic101/sp"]["alias"]
                assert births["area1/plc1/uptime"]["type"] == "UInt32"

                # data by exception, by alias, seq counting on
                ddata = host.expect(lambda m: m.get("topic") == DDATA)
                assert ddata["payload"]["seq"] >= 2
                assert all("alias" in m for m in ddata["payload"]["metrics"])

                # a DCMD the service user (operator) may make: written, read back, audited
                host.send(
                    op="dcmd",
                    edge=EDGE,
                    device=DEVICE,
                    metrics=[{"name": "area1/lic101/sp", "type": "Float", "value": 2.5}],
                )
                backend.wait_for_value(
                    "area1/lic101/sp", lambda v: v is not None and abs(v - 2.5) < 1e-6
                )
                host.expect(
                    lambda m: (
                        m.get("topic") == DDATA
                        and any(
                            x.get("alias") == sp_alias and abs(x["value"] - 2.5) < 1e-6
                            for x in m["payload"]["metrics"]
                        )
                    )
                )
                row = wait_rows(backend, "area1/lic101/sp", "confirmed")
                assert row["user"] == "mqtt-host"
                assert row["screen"] == "sparkplug DCMD"
                assert row["new_value"] == pytest.approx(2.5)

                # one it may not (hv102 is for engineers): refused by the writer, audited
                before = backend.wait_for_value(
                    "area1/hv102/opening", lambda v: v is not None
                ).value
                host.send(
                    op="dcmd",
                    edge=EDGE,
                    device=DEVICE,
                    metrics=[{"name": "area1/hv102/opening", "type": "Float", "value": 99.0}],
                )
                row = wait_rows(backend, "area1/hv102/opening", "rejected")
                assert row["user"] == "mqtt-host"
                assert "lacks a role to write area1/hv102/opening" in row["reason"]
                assert backend.value("area1/hv102/opening").value == before

                # a metric that is no tag of ours: refused here, audited as denied
                host.send(
                    op="dcmd",
                    edge=EDGE,
                    device=DEVICE,
                    metrics=[{"name": "area9/x/y", "type": "Float", "value": 1.0}],
                )
                row = wait_rows(backend, "area9/x/y", "denied")
                assert "no metric area9/x/y" in row["reason"]

                # a host asks for a rebirth: NBIRTH again, seq 0, same bdSeq
                seen = len(host.seen)
                host.send(
                    op="ncmd",
                    edge=EDGE,
                    metrics=[{"name": "Node Control/Rebirth", "type": "Boolean", "value": True}],
                )
                again = host.expect(
                    lambda m: m.get("topic") == NBIRTH and host.seen.index(m) >= seen
                )
                assert again["payload"]["seq"] == 0
                assert metrics_of(again)["bdSeq"]["value"] == bdseq
            # a clean stop: NDEATH with the session's bdSeq
            death = host.expect(lambda m: m.get("topic") == NDEATH)
            assert metrics_of(death)["bdSeq"]["value"] == bdseq
        finally:
            host.stop()


@pytest.mark.timeout(60)
def test_without_a_command_user_every_dcmd_is_refused_and_audited(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:
        host = tahu_host(broker, GROUP, tmp_path / "host.log")
        try:
            project = sparkplug_project(tmp_path, broker.url, commands=False)
            with serve_backend(project, tmp_path / "data") as backend:
                host.expect(lambda m: m.get("topic") == DBIRTH)
                before = backend.wait_for_value("area1/lic101/sp", lambda v: v is not None).value
                host.send(
                    op="dcmd",
                    edge=EDGE,
                    device=DEVICE,
                    metrics=[{"name": "area1/lic101/sp", "type": "Float", "value": 1.0}],
                )
                row = wait_rows(backend, "area1/lic101/sp", "denied")
                assert "DCMD writes are not enabled" in row["reason"]
                assert row["host"] == broker.url
                assert backend.value("area1/lic101/sp").value == before
        finally:
            host.stop()
