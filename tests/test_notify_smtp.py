"""SMTP the way providers offer it: STARTTLS with a login, and TLS from the start (smtps://)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from support.mailserver import MailServer

from commentsvc.notify.mail import Mailer, MailError, build_message, smtp_server


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 that this test's clients trust."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    # The client's default context reads the trusted certificates from here.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class Logins:
    """An aiosmtpd authenticator that accepts one user and remembers who logged in."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any):
        ok = (auth_data.login, auth_data.password) == (b"user", b"p@ss word")
        self.seen.append((auth_data.login.decode(), session.ssl is not None))
        return AuthResult(success=ok)


def message():
    return build_message(to="a@example.org", subject="Hi", text="text part", html="<p>html</p>")


def test_starttls_then_login_then_send(plain_app, certificate) -> None:
    logins = Logins()
    server = MailServer(
        tls_context=certificate,
        require_starttls=True,
        authenticator=logins,
        auth_require_tls=True,
    )
    server.start()
    try:
        url = f"smtp://user:p%40ss%20word@127.0.0.1:{server.port}"
        with plain_app.app_context(), Mailer(url) as mailer:
            mailer.send(message())
    finally:
        server.stop()
    assert logins.seen == [("user", True)]  # logged in, over TLS
    assert [m["Subject"] for m in server.inbox.messages] == ["Hi"]


def test_smtps_speaks_tls_from_the_start(plain_app, certificate) -> None:
    server = MailServer(ssl_context=certificate)
    server.start()
    try:
        with plain_app.app_context(), Mailer(f"smtps://127.0.0.1:{server.port}") as mailer:
            mailer.send(message())
    finally:
        server.stop()
    assert len(server.inbox.messages) == 1


def test_the_smtp_url_is_read_with_default_ports() -> None:
    assert smtp_server("smtp://mail.example").port == 587
    assert smtp_server("smtps://u:p@mail.example").port == 465
    with pytest.raises(MailError):
        smtp_server("http://mail.example")
