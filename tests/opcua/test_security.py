"""Basic256Sha256 Sign & Encrypt with certificates, and user name/password, against an
asyncua server that offers nothing else (no anonymous, no unencrypted endpoint).

The client's certificate is made by ``hmi opcua certificate`` (a process); the password
comes from a file or an environment variable the project names, never from the project.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from asyncua import Server, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography.x509.oid import ExtendedKeyUsageOID

from hmi.core.command import CommandState
from hmi.core.quality import Reason, Severity
from hmi.drivers.manager import DriverManager
from hmi.project import load_project
from tests.drivers.helpers import free_port
from tests.opcua.helpers import StoreSink, command

PASSWORD = "s3cret-for-the-test"


class _Users(UserManager):
    """One user, ``hmi``, with the test's password."""

    def get_user(self, iserver, username=None, password=None, certificate=None):  # type: ignore[no-untyped-def]
        if username == "hmi" and password == PASSWORD:
            return User(role=UserRole.User)
        return None


@asynccontextmanager
async def secure_server(folder: Path, port: int) -> AsyncIterator[str]:
    """An asyncua server: SignAndEncrypt Basic256Sha256 only, user name tokens only."""
    key, cert = folder / "server.pem", folder / "server.der"
    await setup_self_signed_certificate(
        key,
        cert,
        "urn:hmi:test:server",
        socket.gethostname(),
        [ExtendedKeyUsageOID.SERVER_AUTH],
        {},
    )
    server = Server(user_manager=_Users())
    await server.init()
    endpoint = f"opc.tcp://127.0.0.1:{port}/secure"
    server.set_endpoint(endpoint)
    await server.set_application_uri("urn:hmi:test:server")
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    server.set_identity_tokens([ua.UserNameIdentityToken])
    await server.load_certificate(str(cert))
    await server.load_private_key(str(key))
    ns = await server.register_namespace("urn:hmi:test")
    plant = await server.nodes.objects.add_object(ua.NodeId("Plant", ns), "Plant")
    speed = await plant.add_variable(ua.NodeId("Speed", ns), "Speed", 1450.0)
    await speed.set_writable()
    async with server:
        yield endpoint


def test_sign_and_encrypt_with_a_user_reads_and_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "hmi",
            "opcua",
            "certificate",
            "--dir",
            str(tmp_path / "keys"),
            "--name",
            "station",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    (tmp_path / "plc.password").write_text(PASSWORD + "\n")
    monkeypatch.setenv("HMI_TEST_PLC_PASSWORD", "not it")
    port = free_port()
    device = """\
  - name: {name}
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:{port}/secure
    security: sign-and-encrypt
    policy: Basic256Sha256
    certificate: keys/station.der
    private_key: keys/station.pem
    user: hmi
    {password}
    timeout: 3
    reconnect_max: 0.5
"""
    project_file = tmp_path / "secure.yaml"
    project_file.write_text(
        "name: secure\ndevices:\n"
        + device.format(name="plc", port=port, password="password_file: plc.password")
        + device.format(name="bad", port=port, password="password_env: HMI_TEST_PLC_PASSWORD")
        + """\
tags:
  - {name: s/plc/speed, device: plc, address: "ns=2;s=Speed", type: float64,
     write_roles: [operator]}
  - {name: s/bad/speed, device: bad, address: "ns=2;s=Speed", type: float64}
"""
    )
    project = load_project(project_file)

    async def main() -> None:
        async with secure_server(tmp_path, port):
            sink = StoreSink(project)
            manager = DriverManager.for_project(project, sink)
            await manager.start()
            try:
                get = sink.get
                await sink.until(lambda: get("s/plc/speed").quality.severity is Severity.GOOD)
                assert get("s/plc/speed").value == 1450.0
                result = await manager.write(command("s/plc/speed", 1200.0))
                assert result.state is CommandState.CONFIRMED, result
                # the wrong password: refused by the server, said so, tags BAD
                await sink.until(lambda: get("s/bad/speed").quality.severity is Severity.BAD)
                bad = get("s/bad/speed").quality
                assert bad.reason is Reason.NOT_CONNECTED
                assert bad.detail.startswith("bad: "), bad
                assert bad.detail.endswith("/secure refused: BadUserAccessDenied"), bad
                assert PASSWORD not in bad.detail and "not it" not in bad.detail
            finally:
                await manager.stop()

    asyncio.run(main())


def test_a_missing_password_is_named_never_shown(tmp_path: Path) -> None:
    from hmi.drivers.opcua.security import SecuritySetupError, open_client
    from hmi.drivers.opcua.settings import OpcUaSettings

    env = OpcUaSettings("opc.tcp://127.0.0.1:1", user="u", password_env="HMI_TEST_UNSET_VAR")
    missing = OpcUaSettings("opc.tcp://127.0.0.1:1", user="u", password_file=tmp_path / "none")

    async def main() -> None:
        for settings, expected in (
            (env, "plc: the password's environment variable HMI_TEST_UNSET_VAR is not set"),
            (missing, f"plc: cannot read the password file {tmp_path / 'none'}: "),
        ):
            try:
                await open_client(settings, "plc", 1.0)
            except SecuritySetupError as exc:
                assert str(exc).startswith(expected), exc
            else:
                raise AssertionError("no error")

    asyncio.run(main())
