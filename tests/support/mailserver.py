"""A real SMTP server in the test process (aiosmtpd), keeping what it received."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from support.servers import free_port


class Inbox:
    """The messages an SMTP server accepted, parsed, in order."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


class MailServer:
    """An SMTP server on a loopback port that can be stopped and started again.

    ``controller_options`` go to aiosmtpd's Controller and its SMTP sessions (TLS, AUTH).
    """

    def __init__(self, **controller_options: Any) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.options = controller_options
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, **self.options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def mail_server(started: bool = True) -> Iterator[MailServer]:
    server = MailServer()
    if started:
        server.start()
    try:
        yield server
    finally:
        server.stop()


def text_of(message: EmailMessage) -> str:
    """The plain-text part of a message."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "no text part"
    return part.get_content()


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "no HTML part"
    return part.get_content()


def links_in(message: EmailMessage, path: str) -> list[str]:
    """The links to ``path`` (e.g. /notify/moderate) in the text part, in order."""
    return re.findall(r"https?://\S*" + re.escape(path) + r"\?token=[\w.\-]+", text_of(message))
