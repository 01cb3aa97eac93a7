"""An OPC UA client set up from a device's settings: security policy, certificates, user.

The password is read when the client is made (from the file or environment variable the
project names), never from the project file or the command line, and never logged.
"""

from __future__ import annotations

import logging
from pathlib import Path

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies
from asyncua.ua.uaerrors import UaError
from cryptography import x509

from hmi.drivers.opcua.settings import OpcUaSettings
from hmi.drivers.secrets import SecretError, read_secret
from hmi.project.secrets import Secret

_MODES = {
    "sign": ua.MessageSecurityMode.Sign,
    "sign-and-encrypt": ua.MessageSecurityMode.SignAndEncrypt,
}


class SecuritySetupError(Exception):
    """The settings cannot make a client (a missing password, an unreadable certificate);
    the message says which and why, without the secret."""


def read_password(settings: OpcUaSettings, device: str) -> str:
    """The user's password from its file or environment variable (:mod:`hmi.drivers.secrets`)."""
    try:
        return read_secret(Secret(settings.password_file, settings.password_env), device)
    except SecretError as exc:
        raise SecuritySetupError(str(exc)) from None


def certificate_uri(path: Path) -> str:
    """The application URI in a certificate's subject alternative names ("" if none)."""
    data = path.read_bytes()
    cert = (
        x509.load_pem_x509_certificate(data)
        if data.lstrip().startswith(b"-----")
        else x509.load_der_x509_certificate(data)
    )
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ""
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else ""


class _ConnectionLost(logging.Filter):
    """Drops asyncua's traceback for a connection that closed under its publish loop
    ("Publish iteration crashed; retrying in 1s", at ERROR, naming no device): the line
    reports the loss itself, in plain words with the device's name."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionError | OSError)


_CONNECTION_LOST = _ConnectionLost()


async def open_client(settings: OpcUaSettings, device: str, timeout: float) -> Client:
    """A client for ``settings`` (not connected yet); raises :class:`SecuritySetupError`."""
    asyncua_log = logging.getLogger("asyncua")
    if asyncua_log.level == logging.NOTSET:
        # The line reports every failure in plain words (rate-limited); asyncua's own
        # warnings on each reconnect attempt would repeat them in its terms.
        asyncua_log.setLevel(logging.ERROR)
    session_log = logging.getLogger("asyncua.client.ua_session.UaSession")
    if _CONNECTION_LOST not in session_log.filters:
        session_log.addFilter(_CONNECTION_LOST)
    client = Client(settings.endpoint, timeout=timeout, watchdog_intervall=1.0)
    client.name = client.description = "hmi"
    client.application_uri = "urn:hmi:client"
    if settings.security != "none":
        assert settings.certificate is not None and settings.private_key is not None
        try:
            uri = settings.application_uri or certificate_uri(settings.certificate)
        except (OSError, ValueError) as exc:
            raise SecuritySetupError(
                f"{device}: cannot read certificate {settings.certificate}: {exc}"
            ) from None
        if uri:
            client.application_uri = uri
        policy = getattr(security_policies, f"SecurityPolicy{settings.policy}")
        server_cert = str(settings.server_certificate) if settings.server_certificate else None
        try:
            await client.set_security(
                policy,
                str(settings.certificate),
                str(settings.private_key),
                server_certificate=server_cert,
                mode=_MODES[settings.security],
            )
        except (OSError, ValueError, UaError) as exc:
            raise SecuritySetupError(
                f"{device}: security {settings.security} {settings.policy}: {exc}"
            ) from None
    if settings.user:
        client.set_user(settings.user)
        client.set_password(read_password(settings, device))
    return client


async def make_certificate(directory: Path, name: str, uri: str, host: str) -> tuple[Path, Path]:
    """A self-signed client certificate ``NAME.der`` and its key ``NAME.pem`` in
    ``directory`` (kept when they exist and are valid); returns (certificate, key)."""
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.der", directory / f"{name}.pem"
    await setup_self_signed_certificate(key, cert, uri, host, [ExtendedKeyUsageOID.CLIENT_AUTH], {})
    key.chmod(0o600)
    return cert, key
