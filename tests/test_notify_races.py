"""Notifications racing each other: a post asking for notifications while its address leaves,
and two outbox workers claiming one digest. Real threads, both databases.

Each test stops one side at the statement where the race bites (about to send it, or just
done with it) and runs the other side meanwhile, so the race happens every time. Without the
upsert of ``subscriptions.request`` the post read the address's row, the unsubscribe deleted
it, and the post's subscription then failed on its foreign key: a 500, the comment lost
(PostgreSQL). With it, but an unsubscribe that deleted the subscriptions before the address's
row, the two deadlocked over a subscription to the same article. Without the claim lock of
``worker.claim`` a second worker skipped the rows the first had locked and claimed the rest
of the same digest: one digest, two mails (PostgreSQL). On SQLite writers take turns, which
the same tests hold it to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.cli import ScriptInfo
from support.mailserver import MailServer, mail_server, text_of
from support.races import Paused
from support.readers import Reader

from commentsvc.cli import main as cli_group
from commentsvc.core.extensions import db
from commentsvc.db.models import Comment
from commentsvc.notify import links
from commentsvc.notify.models import OutboxMessage, Subscriber, Subscription
from commentsvc.notify.worker import send_pending

pytestmark = pytest.mark.settings(
    # The side that runs meanwhile waits for the paused one; it must not give up first.
    DB_LOCK_TIMEOUT_MS=15_000,
)

EMAIL = "sub@example.com"
MOD = "mod@example.org"
FIRST = "https://news.example/a"
SECOND = "https://news.example/b"


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


@pytest.fixture
def config(config: dict[str, Any], smtp: MailServer) -> dict[str, Any]:
    config.update(
        SMTP_URL=smtp.url,
        MODERATOR_EMAILS=MOD,
        PUBLIC_URL="http://localhost",
        MAIL_FROM="comments@news.example",
    )
    return config


class PausedAt(Paused):
    """One that stops at the first statement ``matches`` picks (before it is sent, or
    ``after`` it has run)."""

    def __init__(self, app: Flask, matches: Callable[[str], bool], after: bool) -> None:
        super().__init__()
        self.matches = matches
        with app.app_context():
            self.engine = db.engine
        self.event = "after_cursor_execute" if after else "before_cursor_execute"
        sa.event.listen(self.engine, self.event, self._stop)

    def _stop(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.matches(statement):
            self.here()

    def close(self) -> None:
        self.go_on.set()
        sa.event.remove(self.engine, self.event, self._stop)


@pytest.fixture
def pause() -> Iterator[Callable[..., PausedAt]]:
    made: list[PausedAt] = []

    def make(app: Flask, matches: Callable[[str], bool], after: bool = False) -> PausedAt:
        made.append(PausedAt(app, matches, after))
        return made[-1]

    yield make
    for paused in made:
        paused.close()


def notify_post(app: Flask, url: str, text: str) -> Callable[[], Any]:
    reader = Reader(app.test_client())
    return lambda: reader.post_json(url=url, comment=text, email=EMAIL, notify=True)


def code(response: Any) -> int:
    """The status code a post answered with (it raised nothing)."""
    assert not isinstance(response, BaseException), response
    return response.status_code


def unsubscribe_from_all(app: Flask) -> Callable[[], Any]:
    with app.app_context():
        row = db.session.execute(sa.select(Subscriber).filter_by(email=EMAIL)).scalar_one()
        token = links.subscriber_token("unsubscribe", row.id, row.secret)
    client = app.test_client()

    def click() -> Any:
        response = client.post("/notify/unsubscribe", data={"token": token, "scope": "all"})
        return response.status_code

    return click


def erase(app: Flask) -> Callable[[], Any]:
    def run() -> Any:
        with app.app_context():
            result = app.test_cli_runner().invoke(
                cli_group,
                ["erase-commenter", EMAIL, "--yes"],
                obj=ScriptInfo(create_app=lambda: app),
            )
            db.session.remove()
        return result.exit_code, result.output

    return run


def subscriptions_of_address(app: Flask) -> dict[str, int]:
    """How many subscriber rows the address has, and how many subscriptions there are."""
    with app.app_context():
        subscribers = db.session.execute(sa.select(Subscriber.id).filter_by(email=EMAIL)).all()
        subscriptions = db.session.execute(
            sa.select(sa.func.count()).select_from(Subscription)
        ).scalar_one()
        return {"subscribers": len(subscribers), "subscriptions": subscriptions}


def mails_to_address(app: Flask, smtp: MailServer) -> list[str]:
    """The subjects of what a worker's pass now sends to the address."""
    run_pass(app, limit=100)
    return [str(mail["Subject"]) for mail in smtp.inbox.to(EMAIL)]


def bodies_of_address(app: Flask) -> list[str]:
    with app.app_context():
        return list(
            db.session.execute(
                sa.select(Comment.body).where(Comment.email == EMAIL).order_by(Comment.id)
            ).scalars()
        )


def run_pass(app: Flask, limit: int) -> Any:
    with app.app_context():
        return send_pending(limit=limit)


def sends_subscription(sql: str) -> bool:
    return sql.lstrip().startswith("INSERT INTO notify_subscriptions ")


@pytest.mark.parametrize("article", [SECOND, FIRST], ids=["another article", "the same article"])
@pytest.mark.settings(MODERATION="none")
def test_a_post_asking_for_notifications_while_its_address_unsubscribes_from_all_is_stored(
    app, smtp, pause, article
) -> None:
    assert code(notify_post(app, FIRST, "First")()) == 201
    unsubscribe = unsubscribe_from_all(app)
    # The post stops once it knows the address's row, before it subscribes it to the article.
    paused = pause(app, sends_subscription)
    paused.start(notify_post(app, article, "Second"))
    # The unsubscribe waits for the post (its row is locked), then unsubscribes it from all.
    assert unsubscribe() == 200
    paused.go_on.set()
    assert code(paused.finish()) == 201
    assert bodies_of_address(app) == ["First", "Second"]
    assert subscriptions_of_address(app) == {"subscribers": 0, "subscriptions": 0}
    assert mails_to_address(app, smtp) == []


@pytest.mark.parametrize("article", [SECOND, FIRST], ids=["another article", "the same article"])
@pytest.mark.settings(MODERATION="none")
def test_a_post_asking_for_notifications_while_its_address_is_erased_is_no_error(
    app, smtp, pause, article
) -> None:
    assert code(notify_post(app, FIRST, "First")()) == 201
    paused = pause(app, sends_subscription)
    paused.start(notify_post(app, article, "Second"))
    # The erasure waits for the post (the address's row is locked), then forgets the address.
    exit_code, output = erase(app)()
    paused.go_on.set()
    assert code(paused.finish()) == 201
    assert exit_code == 0, output
    assert "1 notification subscription(s) erased" in output
    assert subscriptions_of_address(app) == {"subscribers": 0, "subscriptions": 0}
    assert mails_to_address(app, smtp) == []


# SQLite: the post holds the writer's turn by then, so the unsubscribe cannot go first.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.settings(MODERATION="none")
def test_a_post_asking_for_notifications_after_its_address_unsubscribed_subscribes_it_anew(
    app, smtp, pause
) -> None:
    assert code(notify_post(app, FIRST, "First")()) == 201
    unsubscribe = unsubscribe_from_all(app)
    # The post stops before its notifications' first statement: the unsubscribe goes first.
    paused = pause(app, lambda sql: "notify_subscribers" in sql)
    paused.start(notify_post(app, SECOND, "Second"))
    assert unsubscribe() == 200
    paused.go_on.set()
    assert code(paused.finish()) == 201
    assert bodies_of_address(app) == ["First", "Second"]
    # A new, unconfirmed subscription to SECOND, with its confirmation mail.
    assert subscriptions_of_address(app) == {"subscribers": 1, "subscriptions": 1}
    [subject] = mails_to_address(app, smtp)
    assert "confirm" in subject.lower()


def is_claims_first_read(sql: str) -> bool:
    return "FROM notify_outbox" in sql and "LIMIT" in sql


@pytest.mark.settings(MODERATION="all", NOTIFY_MODERATORS="digest", NOTIFY_DIGEST_MINUTES=30)
def test_two_workers_at_once_send_a_digest_as_one_mail(app, reader, smtp, pause) -> None:
    texts = [f"Held comment {n}" for n in range(3)]
    for n, text in enumerate(texts):
        response = reader.post_json(url=FIRST, comment=text, email=f"p{n}@example.com")
        assert response.status_code == 202, response.get_json()
    # One pass has read the first due message (of one), not yet the rest of its digest.
    paused = pause(app, is_claims_first_read, after=True)
    paused.start(lambda: run_pass(app, limit=1))
    # The other pass waits for that claim, then finds nothing left.
    other = run_pass(app, limit=1)
    paused.go_on.set()
    first = paused.finish()
    assert not isinstance(first, BaseException), first
    assert (first.sent, other.sent) == (3, 0)
    [mail] = smtp.inbox.to(MOD)
    assert "3 comments await moderation" in mail["Subject"]
    assert all(text in text_of(mail) for text in texts)
    with app.app_context():
        statuses = db.session.execute(sa.select(OutboxMessage.status)).scalars().all()
    assert statuses == ["sent"] * 3
