"""The edge node on a Mosquitto that wants TLS and a password: certificates made here by
``openssl``, users by ``mosquitto_passwd``, the subscriber ``mosquitto_sub`` (programs we
did not write). A wrong password is refused by the broker and nothing is published."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from hmi.bus import Bus, Supervisor
from hmi.drivers.sparkplug.edge_actor import SparkplugEdge
from hmi.project import parse_project
from tests.sparkplug.peers import mosquitto, need, wait_until


def make_certificates(folder: Path) -> None:
    """A CA, and a server certificate for 127.0.0.1 signed by it."""
    openssl = need("openssl")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
        "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "broker.key", "-out", "broker.csr")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "broker.pem")  # fmt: skip


def project_of(folder: Path, url: str, password_file: str) -> object:
    text = f"""\
name: TLS plant
tags:
  - {{name: area1/t101/level, type: float64}}
sparkplug:
  broker: {url}
  group: secure
  edge_node: site
  username: site
  password_file: {password_file}
  tls: {{ca_file: certs/ca.pem}}
"""
    path = folder / "plant.yaml"
    path.write_text(text)
    return parse_project(text, path)


@pytest.mark.timeout(60)
def test_tls_and_a_password_from_a_file(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certificates(certs)
    passwd = tmp_path / "passwd"
    subprocess.run(
        [need("mosquitto_passwd"), "-b", "-c", str(passwd), "site", "s3cret"], check=True
    )
    subprocess.run([need("mosquitto_passwd"), "-b", str(passwd), "reader", "r3ad"], check=True)
    (tmp_path / "right.password").write_text("s3cret\n")
    (tmp_path / "wrong.password").write_text("guess\n")
    settings = (
        f"cafile {certs / 'ca.pem'}\ncertfile {certs / 'broker.pem'}\n"
        f"keyfile {certs / 'broker.key'}\nallow_anonymous false\npassword_file {passwd}\n"
    )
    with mosquitto(tmp_path, settings) as broker:
        assert broker.url.startswith("mqtts://")
        out = (tmp_path / "sub.txt").open("wb")
        command = f"-h 127.0.0.1 -p {broker.port} -u reader -P r3ad -t spBv1.0/# -F %t -C 2"
        sub = subprocess.Popen(
            [need("mosquitto_sub"), "--cafile", str(certs / "ca.pem"), *command.split()],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: "reader" in broker.log.read_text(), 10, "mosquitto_sub in")

            async def publish(password_file: str) -> SparkplugEdge:
                bus = Bus.local()
                supervisor = Supervisor(bus)
                edge = SparkplugEdge(project_of(tmp_path, broker.url, password_file))  # type: ignore[arg-type]
                await supervisor.start(edge)
                try:
                    if password_file == "right.password":
                        await asyncio.wait_for(edge.link.up.wait(), 10)  # type: ignore[union-attr]
                    else:  # the broker's word that it refused the client
                        await asyncio.to_thread(
                            wait_until,
                            lambda: "not authorised" in broker.log.read_text(),
                            10,
                            "refusal in the broker's log",
                        )
                        assert not edge.link.connected  # type: ignore[union-attr]
                finally:
                    await supervisor.stop()
                    await bus.close()
                return edge

            wrong = asyncio.run(publish("wrong.password"))
            assert wrong.births == 0
            right = asyncio.run(publish("right.password"))
            assert right.births == 1
            sub.wait(10)
        finally:
            if sub.poll() is None:
                sub.terminate()
                sub.wait(10)
            out.close()
        topics = (tmp_path / "sub.txt").read_text().split()
        assert topics == ["spBv1.0/secure/NBIRTH/site", "spBv1.0/secure/DBIRTH/site/plant"]
