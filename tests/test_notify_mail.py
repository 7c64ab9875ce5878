"""The outbox and moderator mail, through a real SMTP server (aiosmtpd) in the test process."""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from support.mailserver import MailServer, html_of, links_in, mail_server, text_of

from commentsvc.core.extensions import db
from commentsvc.db.models import Comment, Status, utcnow
from commentsvc.notify.models import OutboxMessage
from commentsvc.notify.worker import send_pending

A = {"url": "https://news.example/a", "title": "An article"}
MOD = "mod@example.org"


@pytest.fixture
def smtp():
    with mail_server() as server:
        yield server


@pytest.fixture
def config(config, smtp: MailServer):
    config.update(
        SMTP_URL=smtp.url,
        MODERATOR_EMAILS=MOD,
        PUBLIC_URL="http://localhost",
        MAIL_FROM="comments@news.example",
        SITE_NAME="News",
    )
    return config


def run_pass(app, **kwargs):
    with app.app_context():
        return send_pending(**kwargs)


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def status_of(app, comment_id: int) -> str:
    with app.app_context():
        return db.session.get(Comment, comment_id).status


def outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.execute(db.select(OutboxMessage).order_by(OutboxMessage.id)).scalars()
        return [(r.topic, r.recipient, r.status, r.attempts) for r in rows]


def test_a_held_comment_mails_the_moderator_whose_link_approves_it_after_a_confirmation(
    app, client, reader, smtp
) -> None:
    assert (
        reader.post(A, name="Bea", email="bea@example.com", comment="Held text").status_code == 303
    )
    assert status_of(app, 1) == Status.PENDING
    assert smtp.inbox.messages == []  # nothing is sent from the request itself
    assert run_pass(app).sent == 1

    [mail] = smtp.inbox.messages
    assert smtp.inbox.envelopes[0][1] == [MOD]
    assert mail["Subject"] == "[News] Please moderate: “An article”"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Date"] and mail["Message-ID"].endswith("@news.example>")
    assert "News" in mail["From"] and "comments@news.example" in mail["From"]
    assert "Held text" in text_of(mail) and "Held text" in html_of(mail)
    approve, spam, trash = links_in(mail, "/notify/moderate")

    # A GET (a mail scanner, a preview) shows the question and changes nothing.
    page = client.get(path_of(approve))
    assert page.status_code == 200 and "Approve this comment" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert status_of(app, 1) == Status.PENDING

    token = urlsplit(approve).query.removeprefix("token=")
    done = client.post("/notify/moderate", data={"token": token})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert 'href="/admin/?comment=1"' in done.get_data(as_text=True)
    assert status_of(app, 1) == Status.APPROVED

    # Single-use: the link, and its siblings in the same mail, are spent.
    assert client.post("/notify/moderate", data={"token": token}).status_code == 410
    spam_token = urlsplit(spam).query.removeprefix("token=")
    assert client.post("/notify/moderate", data={"token": spam_token}).status_code == 410
    assert status_of(app, 1) == Status.APPROVED
    assert trash  # three links


def test_a_link_does_nothing_to_a_comment_moderated_since(app, client, reader, admin, smtp) -> None:
    reader.post(A, email="bea@example.com")
    run_pass(app)
    approve, *_ = links_in(smtp.inbox.messages[0], "/notify/moderate")
    admin.act("trash", 1)
    token = urlsplit(approve).query.removeprefix("token=")
    response = client.post("/notify/moderate", data={"token": token})
    assert response.status_code == 409 and "It is now trash" in response.get_data(as_text=True)
    assert status_of(app, 1) == Status.TRASH
    # "Open the admin to change it": a link there, to this comment (behind the sign-in).
    page = response.get_data(as_text=True)
    assert '<a href="/admin/?comment=1">Open this comment in the admin</a>' in page
    assert admin.client.get("/admin/?comment=1").status_code == 200


def test_without_a_mail_server_no_box_is_shown_and_no_mail_waits(app, reader) -> None:
    app.config["SMTP_URL"] = ""
    page = reader.widget(**A).get_data(as_text=True)
    assert 'name="notify"' not in page
    reader.post(A, email="bea@example.com", notify="y")
    assert outbox(app) == []


def test_a_forged_or_cut_link_changes_nothing(app, client, reader, smtp) -> None:
    reader.post(A, email="bea@example.com")
    run_pass(app)
    [approve, *_] = links_in(smtp.inbox.messages[0], "/notify/moderate")
    token = urlsplit(approve).query.removeprefix("token=")
    for bad in (token[:-3], token.replace(".", "x", 1), ""):
        assert client.post("/notify/moderate", data={"token": bad}).status_code == 400
    assert status_of(app, 1) == Status.PENDING


@pytest.mark.settings(NOTIFY_MODERATORS="none")
def test_no_moderator_mail_when_switched_off(app, reader, smtp) -> None:
    reader.post(A, email="bea@example.com")
    assert run_pass(app).handled == 0
    assert smtp.inbox.messages == []


@pytest.mark.settings(NOTIFY_MODERATORS="digest", NOTIFY_DIGEST_MINUTES=30)
def test_in_digest_mode_held_comments_wait_and_go_together(app, reader, smtp) -> None:
    reader.post(A, email="one@example.com", comment="First held")
    assert run_pass(app).sent == 1  # the first goes at once
    reader.post(A, email="two@example.com", comment="Second held")
    reader.post(A, email="three@example.com", comment="Third held")
    assert run_pass(app).handled == 0  # within the 30 minutes
    assert run_pass(app, now=utcnow() + timedelta(minutes=31)).sent == 2
    first, digest = smtp.inbox.messages
    assert "2 comments await moderation" in digest["Subject"]
    assert "Second held" in text_of(digest) and "Third held" in text_of(digest)
    assert len(links_in(digest, "/notify/moderate")) == 6


def test_a_mail_server_that_is_down_loses_nothing_and_sends_once_when_back(app, reader) -> None:
    with mail_server(started=False) as smtp:
        app.config["SMTP_URL"] = smtp.url
        reader.post(A, email="bea@example.com", comment="While down")
        first = run_pass(app)
        assert (first.sent, first.retrying) == (0, 1)
        [(topic, _to, status, attempts)] = outbox(app)
        assert (topic, status, attempts) == ("moderator.held", "pending", 1)
        # Not before its backoff is over.
        assert run_pass(app).handled == 0

        smtp.start()
        later = utcnow() + timedelta(hours=2)
        assert run_pass(app, now=later).sent == 1
        assert run_pass(app, now=later + timedelta(hours=1)).handled == 0
        assert len(smtp.inbox.messages) == 1
        assert "While down" in text_of(smtp.inbox.messages[0])
        assert outbox(app)[0][2] == "sent"


@pytest.mark.settings(NOTIFY_RETRY_HOURS=1)
def test_retries_end_in_failed_and_the_admin_can_put_it_back(app, reader) -> None:
    from commentsvc.notify.worker import retry

    with mail_server(started=False) as smtp:
        app.config["SMTP_URL"] = smtp.url
        reader.post(A, email="bea@example.com")
        now = utcnow()
        for hours in range(0, 4):
            run_pass(app, now=now + timedelta(hours=hours))
        assert outbox(app)[0][2] == "failed"
        smtp.start()
        with app.app_context():
            assert retry(1)
            assert not retry(1)  # already pending
        assert run_pass(app).sent == 1
        assert len(smtp.inbox.messages) == 1


@pytest.mark.settings(NOTIFY_MODERATORS="none")
def test_two_workers_at_once_never_send_a_message_twice(app, reader, smtp) -> None:
    from commentsvc.db.connections import write_transaction
    from commentsvc.notify.outbox import enqueue

    # Every message asks about this held comment (a mail about one moderated meanwhile
    # would be cancelled, not sent).
    reader.post(A, email="bea@example.com")
    assert status_of(app, 1) == Status.PENDING
    with app.app_context(), write_transaction() as connection:
        for n in range(40):
            enqueue(
                connection,
                channel="email",
                topic="moderator.held",
                recipient=f"mod{n}@example.org",
                payload={
                    "comment": {
                        "id": 1,
                        "article_id": 1,
                        "parent_id": None,
                        "name": "N",
                        "website": "",
                        "body": f"body {n}",
                        "created_at": "2026-01-01T00:00:00+00:00",
                        "article": {"key": "k", "url": "https://news.example/k", "title": "T"},
                    },
                    "link_id": f"{n:032d}",
                },
            )
    start = threading.Barrier(2)
    sent: list[int] = []

    def worker() -> None:
        start.wait()
        while True:
            done = run_pass(app, limit=3)
            sent.append(done.sent)
            if done.handled == 0:
                return

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    recipients = [to[0] for _from, to in smtp.inbox.envelopes]
    assert sorted(recipients) == sorted(f"mod{n}@example.org" for n in range(40))
    assert sum(sent) == 40
    assert {row[2] for row in outbox(app)} == {"sent"}


def test_a_message_that_cannot_be_built_fails_alone_and_the_others_go(app, reader, smtp) -> None:
    reader.post(A, email="one@example.com", comment="Broken")
    reader.post(A, email="two@example.com", comment="Fine")
    with app.app_context():
        db.session.execute(
            db.update(OutboxMessage).where(OutboxMessage.id == 1).values(payload="{}")
        )
        db.session.commit()
    done = run_pass(app)
    assert (done.sent, done.failed) == (1, 1)
    assert [row[2] for row in outbox(app)] == ["failed", "sent"]
    assert "Fine" in text_of(smtp.inbox.messages[0])


def test_sent_messages_are_forgotten_after_a_month(app, reader, smtp) -> None:
    reader.post(A, email="one@example.com")
    run_pass(app)
    assert len(outbox(app)) == 1
    run_pass(app, now=utcnow() + timedelta(days=31))
    assert outbox(app) == []


def outbox_errors(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(OutboxMessage).order_by(OutboxMessage.id)).scalars()
        return [(r.status, r.last_error) for r in rows]


def test_a_moderator_mail_for_a_comment_moderated_while_it_waited_is_not_sent(
    app, reader, admin
) -> None:
    with mail_server(started=False) as smtp:
        app.config["SMTP_URL"] = smtp.url
        reader.post(A, email="bea@example.com", comment="Held, then approved")
        assert run_pass(app).retrying == 1  # the mail server is down
        admin.act("approve", 1)
        smtp.start()
        done = run_pass(app, now=utcnow() + timedelta(hours=2))
        assert (done.sent, done.cancelled) == (0, 1)
        assert smtp.inbox.messages == []
        assert outbox_errors(app) == [("cancelled", "no longer wanted")]


@pytest.mark.settings(NOTIFY_MODERATORS="digest", NOTIFY_DIGEST_MINUTES=30)
def test_a_digest_lists_and_counts_only_the_comments_still_held_when_it_goes(
    app, reader, admin, smtp
) -> None:
    reader.post(A, email="one@example.com", comment="First held")
    assert run_pass(app).sent == 1
    for n, text in enumerate(["Approved meanwhile", "Still held", "Also still held"]):
        reader.post(A, email=f"p{n}@example.com", comment=text)
    admin.act("approve", 2)
    done = run_pass(app, now=utcnow() + timedelta(minutes=31))
    assert (done.sent, done.cancelled) == (2, 1)
    _first, digest = smtp.inbox.messages
    assert digest["Subject"] == "[News] 2 comments await moderation"
    assert "Still held" in text_of(digest) and "Also still held" in text_of(digest)
    assert "Approved meanwhile" not in text_of(digest) + html_of(digest)
    assert len(links_in(digest, "/notify/moderate")) == 6
    assert [status for status, _error in outbox_errors(app)] == [
        "sent",
        "cancelled",
        "sent",
        "sent",
    ]


@pytest.mark.settings(NOTIFY_MODERATORS="digest", NOTIFY_DIGEST_MINUTES=30)
def test_no_digest_goes_when_every_comment_in_it_was_moderated_meanwhile(
    app, reader, admin, smtp
) -> None:
    reader.post(A, email="one@example.com", comment="First held")
    run_pass(app)
    reader.post(A, email="two@example.com", comment="Trashed meanwhile")
    reader.post(A, email="three@example.com", comment="Spam meanwhile")
    admin.act("trash", 2)
    admin.act("spam", 3)
    done = run_pass(app, now=utcnow() + timedelta(minutes=31))
    assert (done.sent, done.cancelled) == (0, 2)
    assert len(smtp.inbox.messages) == 1  # the first comment's mail only
