"""SMTP over TLS against a real aiosmtpd server with a throwaway certificate for 127.0.0.1:
implicit TLS (security = "ssl"), STARTTLS, a login, and a certificate that must not be trusted."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from fakes.messages import batch_of, make_recipient
from fakes.smtp import ScriptedHandler, free_port
from newsletter.errors import ProviderRequestError
from newsletter.providers.base import create_provider

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="openssl (to make a test certificate) is not installed")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=auth_data.login == b"clinic" and auth_data.password == b"s3cret", handled=False)


def _send_one(provider):
    try:
        return provider.send(batch_of([make_recipient(1, to="reader@example.org")]))
    finally:
        provider.close()


def test_implicit_tls_with_login(certificate):
    cert, key = certificate
    handler, port = ScriptedHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=_server_context(cert, key),
                            authenticator=_authenticate, auth_require_tls=False)
    controller.start()
    try:
        options = {"host": "127.0.0.1", "port": port, "security": "ssl", "timeout": 5, "ca_file": str(cert)}
        results = _send_one(create_provider("smtp", options, {"SMTP_USERNAME": "clinic", "SMTP_PASSWORD": "s3cret"}))
    finally:
        controller.stop()
    assert [r.status for r in results] == ["accepted"]
    (rcpts, content), = handler.received
    assert rcpts == ["reader@example.org"]
    assert message_from_bytes(content, policy=default_policy)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_starttls_is_used_before_login(certificate):
    cert, key = certificate
    handler, port = ScriptedHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=_server_context(cert, key),
                            require_starttls=True, authenticator=_authenticate, auth_require_tls=True)
    controller.start()
    try:
        options = {"host": "127.0.0.1", "port": port, "security": "starttls", "timeout": 5, "ca_file": str(cert)}
        results = _send_one(create_provider("smtp", options, {"SMTP_USERNAME": "clinic", "SMTP_PASSWORD": "s3cret"}))
    finally:
        controller.stop()
    assert [r.status for r in results] == ["accepted"] and len(handler.received) == 1


def test_an_untrusted_certificate_is_refused_with_a_hint(certificate):
    cert, key = certificate
    handler, port = ScriptedHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=_server_context(cert, key), require_starttls=True)
    controller.start()
    try:
        options = {"host": "127.0.0.1", "port": port, "security": "starttls", "timeout": 5}  # no ca_file
        with pytest.raises(ProviderRequestError, match="certificate") as err:
            _send_one(create_provider("smtp", options, {}))
    finally:
        controller.stop()
    assert "ca_file" in err.value.hint
    assert handler.received == []
