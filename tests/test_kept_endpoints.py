"""The active webhook endpoints, kept per worker on PostgreSQL with push invalidation: a post
asks the database for them only after a change of the endpoints has been notified, and a
change made anywhere (another host, the admin, by hand in SQL) reaches the next post."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from flask import Flask
from support.push import freshly_vouched, statements_of
from support.readers import Reader

from commentsvc.core.extensions import db
from commentsvc.db.change_listener import KnownStates
from commentsvc.db.kept_states import ENDPOINTS, UNKNOWN
from commentsvc.notify.models import OutboxMessage, WebhookEndpoint
from commentsvc.notify.webhooks import KEPT_AS, new_secret

pytestmark = [
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
    pytest.mark.settings(PUSH_INVALIDATION=True, MODERATION="none", WEBHOOK_ALLOW_PRIVATE=True),
]

ENDPOINTS_READ = "notify_webhook_endpoints"


def until_forgotten(listening: KnownStates) -> None:
    """Until the listener has forgotten the kept endpoints (their change's notice arrived)."""
    deadline = time.monotonic() + 10
    while True:
        state, ticket = listening.lookup(KEPT_AS, ENDPOINTS)
        if state is UNKNOWN and ticket is not None:
            return
        assert time.monotonic() < deadline, "the endpoints' change was never notified"
        time.sleep(0.002)


def webhook_calls(app: Flask) -> list[str]:
    """The outbox's webhook rows: recipient per row, in order."""
    with app.app_context():
        return list(
            db.session.scalars(
                db.select(OutboxMessage.recipient)
                .where(OutboxMessage.channel == "webhook")
                .order_by(OutboxMessage.id)
            )
        )


def post(app: Flask, n: int) -> tuple[list[str], Any]:
    reader = Reader(app.test_client())
    return statements_of(
        app,
        lambda: reader.post_json(comment=f"Comment {n}", name=f"R{n}", email=f"r{n}@example.com"),
    )


def test_kept_endpoints_cost_a_post_no_statement(app, listening) -> None:
    statements, first = post(app, 1)
    assert first.status_code == 201
    assert [s for s in statements if ENDPOINTS_READ in s], "the first post did not read them"
    for n in (2, 3):
        freshly_vouched(listening)
        statements, answer = post(app, n)
        assert answer.status_code == 201
        assert not [s for s in statements if ENDPOINTS_READ in s], statements


@pytest.mark.parametrize("where", ["another host", "by hand in SQL"])
def test_an_endpoint_added_elsewhere_gets_the_next_post(app, listening, other_host, where) -> None:
    assert post(app, 1)[1].status_code == 201  # no endpoint yet: kept as none
    assert post(app, 2)[1].status_code == 201
    assert webhook_calls(app) == []
    if where == "another host":
        with other_host.app_context():
            db.session.add(
                WebhookEndpoint(
                    url="http://127.0.0.1:9/hook", events="comment.created", secret=new_secret()
                )
            )
            db.session.commit()
            endpoint_id = db.session.scalars(db.select(WebhookEndpoint.id)).one()
    else:
        url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
        with psycopg.connect(url, autocommit=True) as connection:
            endpoint_id = connection.execute(
                "INSERT INTO notify_webhook_endpoints (url, events, secret, active, created_at) "
                "VALUES ('http://127.0.0.1:9/hook', 'comment.created', %s, true, now()) "
                "RETURNING id",
                [new_secret()],
            ).fetchone()[0]
    until_forgotten(listening)
    assert post(app, 3)[1].status_code == 201
    assert webhook_calls(app) == [f"endpoint:{endpoint_id}"]


def test_an_endpoint_switched_off_elsewhere_is_not_called_by_the_next_post(
    app, listening, other_host
) -> None:
    with other_host.app_context():
        endpoint = WebhookEndpoint(
            url="http://127.0.0.1:9/hook", events="comment.created", secret=new_secret()
        )
        db.session.add(endpoint)
        db.session.commit()
        endpoint_id = endpoint.id
    assert post(app, 1)[1].status_code == 201
    assert post(app, 2)[1].status_code == 201  # from the kept endpoints
    assert webhook_calls(app) == [f"endpoint:{endpoint_id}"] * 2
    with other_host.app_context():
        db.session.get(WebhookEndpoint, endpoint_id).active = False
        db.session.commit()
    until_forgotten(listening)
    assert post(app, 3)[1].status_code == 201
    assert webhook_calls(app) == [f"endpoint:{endpoint_id}"] * 2
