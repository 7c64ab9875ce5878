"""PostgreSQL: a post takes its sender's turn (advisory locks) for its duplicate and flood
checks; posts from one network take turns only while flood control by network applies."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from flask import Flask
from support.readers import Reader

from commentsvc.comments import posting

pytestmark = [
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
    # Long enough for a post that waits for another to outlast the test's wait.
    pytest.mark.settings(MODERATION="none", DB_LOCK_TIMEOUT_MS=30_000),
]


def post_while_another_is_inside(app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Post as Ann, and while her post is inside its transaction (stored, locks held, not
    committed), as Bo from the same address: what each got, and whether Bo's post finished
    before Ann's committed."""
    ann_inside, ann_may_commit = threading.Event(), threading.Event()
    real_emit = posting.emit

    def emit_then_wait(connection: Any, *args: Any, **kwargs: Any) -> None:
        real_emit(connection, *args, **kwargs)
        if threading.current_thread().name == "ann":
            ann_inside.set()
            ann_may_commit.wait(30)

    monkeypatch.setattr(posting, "emit", emit_then_wait)
    seen: dict[str, Any] = {}

    def post(name: str) -> None:
        reader = Reader(app.test_client())
        seen[name] = reader.post_json(  # each on an article of their own: no row shared
            url=f"https://news.example/{name}",
            comment=f"{name} writes",
            name=name,
            email=f"{name}@example.com",
        ).status_code

    ann = threading.Thread(target=post, args=("ann",), name="ann")
    ann.start()
    assert ann_inside.wait(30)
    bo = threading.Thread(target=post, args=("bo",), name="bo")
    bo.start()
    # Ann commits only when told: Bo either finishes meanwhile or waits for her lock.
    while bo.is_alive() and not waiting_for_a_lock(app):
        bo.join(0.01)
    seen["bo_before_ann"] = not bo.is_alive()
    ann_may_commit.set()
    ann.join(30)
    bo.join(30)
    return seen


def waiting_for_a_lock(app: Flask) -> bool:
    """Whether a session of ``app``'s database waits for an advisory lock."""
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as connection:
        return bool(
            connection.execute(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND "
                "database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()
        )


@pytest.mark.settings(FLOOD_SECONDS=0)
def test_without_flood_control_posts_from_one_address_do_not_take_turns(app, monkeypatch):
    seen = post_while_another_is_inside(app, monkeypatch)
    assert seen == {"ann": 201, "bo": 201, "bo_before_ann": True}


@pytest.mark.settings(FLOOD_SECONDS=15)
def test_with_flood_control_the_second_post_from_one_address_waits_and_is_refused(app, monkeypatch):
    seen = post_while_another_is_inside(app, monkeypatch)
    assert seen == {"ann": 201, "bo": 429, "bo_before_ann": False}
