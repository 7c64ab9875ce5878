"""Email over SMTP: the server from ``COMMENTSVC_SMTP_URL``, messages with text and HTML parts.

``smtp://user:pass@host:587`` uses STARTTLS when the server offers it and sends a password
only over TLS (or to this machine); ``smtps://user:pass@host:465`` speaks TLS from the
start. Every message has ``Date``, ``Message-ID`` and ``Auto-Submitted: auto-generated``;
mails to subscribers add ``List-Unsubscribe`` (a plain ``<URL>`` on one line) and
``List-Unsubscribe-Post`` (RFC 8058).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formataddr, formatdate, make_msgid
from types import TracebackType
from urllib.parse import unquote, urlsplit

from flask import current_app

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# RFC 5322's limit for any line of a message, CRLF not counted.
LONGEST_LINE = 998
# Headers written on one line as they are: a URL in angle brackets (RFC 2369) cannot be
# folded, and the default policy then wrote it as RFC 2047 words (=?utf-8?q?=3Chttp...?=),
# in which no mail client finds the one-click unsubscribe URL (RFC 8058).
ONE_LINE_HEADERS = frozenset({"list-unsubscribe"})


class MailPolicy(EmailPolicy):
    """The default policy (lines of 78, non-ASCII as RFC 2047 words), except that the
    ``ONE_LINE_HEADERS`` go out unfolded and unencoded while they are ASCII and fit a line."""

    def fold(self, name: str, value: str) -> str:
        if _one_line(name, value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if _one_line(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


def _one_line(name: str, value: str) -> bool:
    # Line breaks never get here: setting a header refuses them (no header injection).
    text = str(value)
    return (
        name.lower() in ONE_LINE_HEADERS
        and text.isascii()
        and len(name) + 2 + len(text) <= LONGEST_LINE
    )


MAIL_POLICY = MailPolicy()


class MailError(RuntimeError):
    """A mail that could not be sent; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send mail."""

    host: str
    port: int
    implicit_tls: bool
    username: str
    password: str


def smtp_server(url: str) -> SmtpServer:
    """The server a ``COMMENTSVC_SMTP_URL`` names; MailError when it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError(
            "COMMENTSVC_SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465."
        )
    implicit = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 587),
        implicit_tls=implicit,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


def build_message(
    *,
    to: str,
    subject: str,
    text: str,
    html: str,
    unsubscribe_url: str | None = None,
    language: str = "en",
) -> EmailMessage:
    """A message with a text part and an HTML alternative, and the headers every mail has.

    ``language`` is the one it is written in, e.g. ``pt_BR``: ``Content-Language: pt-BR``.
    """
    config = current_app.config
    sender = config["MAIL_FROM"] or "commentsvc@localhost"
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = formataddr((config["SITE_NAME"], sender))
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    # Out-of-office and other robots must not answer a robot (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    # After the parts: setting content drops Content-* headers. RFC 3282, e.g. pt-BR.
    message["Content-Language"] = language.replace("_", "-")
    return message


class Mailer:
    """One SMTP connection, opened at the first message and reused for the others."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Say goodbye to the server (quietly if it is gone)."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        if not self.url:
            raise MailError("No mail server is configured (COMMENTSVC_SMTP_URL).")
        server = smtp_server(self.url)
        timeout = 30
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if server.implicit_tls:
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
        try:
            smtp.ehlo()
            tls = server.implicit_tls
            if not tls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                tls = True
            if server.username:
                if not tls and server.host not in LOOPBACK_HOSTS:
                    raise MailError(
                        f"{server.host} offers no STARTTLS: the password is not sent in clear "
                        "text. Use smtps:// or a server that offers STARTTLS."
                    )
                smtp.login(server.username, server.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Send one message; MailError (permanent when the server refused it for good)."""
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.send_message(message)
        except MailError:
            self.close()
            raise
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            raise MailError(f"Recipient refused: {error.recipients}", permanent=permanent) from None
        except smtplib.SMTPResponseException as error:
            self.close()
            # Retried, even a 5xx: a refused login or sender is the operator's to fix.
            raise MailError(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from None
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise MailError(f"{type(error).__name__}: {error}") from None
