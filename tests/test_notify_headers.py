"""Mail headers as they travel: the raw bytes a real SMTP server (aiosmtpd) receives.

A parsed message hides how a header was written (the parser decodes RFC 2047 words), so
these tests read the bytes: ``List-Unsubscribe`` must go out as a plain ``<URL>`` for a mail
client's one-click button (RFC 8058) to find it, and a long non-ASCII ``Subject`` must still
be folded into proper encoded words.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.mailserver import Inbox, MailServer, links_in

from commentsvc.comments.posting import set_status
from commentsvc.db.models import Status
from commentsvc.notify.mail import Mailer, build_message
from commentsvc.notify.worker import send_pending

A = {"url": "https://news.example/a", "title": "An article"}
SUB = "sub@example.com"
pytestmark = pytest.mark.settings(MODERATION="all")


class RawInbox(Inbox):
    """An inbox that also keeps each message's bytes as they were received."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.raw.append(envelope.original_content)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp():
    server = MailServer()
    server.inbox = RawInbox()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def config(config, smtp: MailServer):
    config.update(SMTP_URL=smtp.url, PUBLIC_URL="http://localhost", MAIL_FROM="c@news.example")
    return config


def header_lines(raw: bytes) -> list[str]:
    """The header section's lines, folded lines still apart (as they were sent)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return head.split("\r\n")


def header_line(raw: bytes, name: str) -> str:
    """The one line of header ``name`` (failing if it was folded onto more lines)."""
    lines = header_lines(raw)
    [index] = [i for i, line in enumerate(lines) if line.lower().startswith(name.lower() + ":")]
    folded = index + 1 < len(lines) and lines[index + 1][:1] in (" ", "\t")
    assert not folded, lines[index : index + 3]
    return lines[index]


def run_pass(app) -> None:
    with app.app_context():
        send_pending()


def test_list_unsubscribe_goes_out_as_a_plain_url_that_one_click_unsubscribes(
    app, client, reader, smtp
) -> None:
    reader.post(A, email=SUB, comment="Q", notify="y")
    with app.app_context():
        set_status(1, Status.APPROVED)
    run_pass(app)
    [confirm] = links_in(smtp.inbox.to(SUB)[0], "/notify/confirm")
    client.post("/notify/confirm", data={"token": urlsplit(confirm).query.split("=", 1)[1]})
    reader.post(A, email="other@example.net", comment="An answer")
    with app.app_context():
        set_status(2, Status.APPROVED)
    run_pass(app)
    raw = smtp.inbox.raw[-1]
    line = header_line(raw, "List-Unsubscribe")
    assert re.fullmatch(r"List-Unsubscribe: <http://localhost/notify/unsubscribe\?token=\S+>", line)
    assert header_line(raw, "List-Unsubscribe-Post") == (
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    )
    # What a mail client does with it (RFC 8058): POST to the URL between the brackets.
    url = urlsplit(line.split(": ", 1)[1].strip("<>"))
    response = app.test_client(use_cookies=False).post(
        f"{url.path}?{url.query}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "Unsubscribed" in response.get_data(as_text=True)


def test_a_long_non_ascii_subject_is_still_folded_into_short_encoded_words(plain_app, smtp) -> None:
    subject = "[News] 12 neue Kommentare zu „Überlegungen über Größe, Maß und Mäßigung“ – " * 2
    unsubscribe = "http://localhost/notify/unsubscribe?token=" + "x" * 300
    with plain_app.app_context(), Mailer(smtp.url) as mailer:
        mailer.send(
            build_message(
                to="a@example.org",
                subject=subject.strip(),
                text="text",
                html="<p>html</p>",
                unsubscribe_url=unsubscribe,
            )
        )
    [raw] = smtp.inbox.raw
    [message] = smtp.inbox.messages
    assert message["Subject"] == subject.strip()
    assert header_line(raw, "List-Unsubscribe") == f"List-Unsubscribe: <{unsubscribe}>"
    # RFC 2047: an encoded word is at most 75 characters; RFC 5322: lines of 78 or fewer
    # (the one-line List-Unsubscribe is the exception, within 998).
    subject_lines = []
    for line in header_lines(raw):
        if line.startswith("Subject:") or (subject_lines and line[:1] == " "):
            subject_lines.append(line)
        elif subject_lines:
            break
    assert len(subject_lines) > 1
    assert all(len(line) <= 78 for line in subject_lines), subject_lines
    words = re.findall(r"=\?utf-8\?[qb]\?[^?]*\?=", " ".join(subject_lines))
    assert words and all(len(word) <= 75 for word in words), words
