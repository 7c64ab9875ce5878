"""Push invalidation on PostgreSQL: a view of an unchanged article costs no statement, and a
change made anywhere shows on the next view once its notification has arrived.

"Another host" is a second app on the same database (its own engine and listener), as a
gunicorn master on another machine would be. A test never sleeps a fixed time: it waits for
the notification by watching the listener's count of them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask import Flask
from support.admin import Admin, make_moderator
from support.clicks import beacon_headers
from support.databases import terminate_backend
from support.forks import in_forked_child
from support.push import freshly_vouched, kept, statements_of, until_notified
from support.readers import Reader

from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.change_listener import KnownStates
from commentsvc.db.kept_states import EXTENSION, UNKNOWN
from commentsvc.db.models import Status
from commentsvc.db.revisions import CHANNEL
from commentsvc.db.site_settings import save_settings

pytestmark = [
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
    pytest.mark.settings(PUSH_INVALIDATION=True, MODERATION="none", SHARE_MIN_COUNT=1),
]

A = {"url": "https://news.example/pushed", "title": "Pushed article"}
KEY = "https://news.example/pushed"
TOKEN = re.compile(r'name="token" value="[^"]+"')


def states_of(app: Flask) -> KnownStates:
    return app.extensions[EXTENSION]


def widget(client: Any) -> str:
    response = client.get("/embed", query_string=A)
    assert response.status_code == 200, response.get_data(as_text=True)
    return TOKEN.sub("", response.get_data(as_text=True))


def comments_json(client: Any) -> Any:
    response = client.get("/api/v1/comments", query_string=A)
    assert response.status_code == 200
    return response.get_json()


def first_comment(app: Flask, text: str = "The first words") -> None:
    assert Reader(app.test_client()).post(A, comment=text).status_code == 303


def test_a_repeated_view_costs_no_statement(app, client, listening) -> None:
    first_comment(app)
    assert "The first words" in kept(app, lambda: widget(client))
    freshly_vouched(listening)
    for _ in range(3):
        statements, again = statements_of(app, lambda: widget(client))
        assert statements == [] and "The first words" in again, statements
    body = kept(app, lambda: comments_json(client))
    assert [c["body"] for c in body["comments"]] == ["The first words"]
    freshly_vouched(listening)
    assert statements_of(app, lambda: comments_json(client))[0] == []
    # An article nobody has commented on is known too (its absence is a state).
    quiet = {"url": "https://news.example/quiet"}
    kept(app, lambda: client.get("/embed", query_string=quiet))
    freshly_vouched(listening)
    assert statements_of(app, lambda: client.get("/embed", query_string=quiet))[0] == []


@pytest.mark.settings(PUSH_INVALIDATION=False)
def test_switched_off_every_view_reads_the_row(app, client) -> None:
    assert EXTENSION not in app.extensions
    first_comment(app)
    widget(client)
    statements, _ = statements_of(app, lambda: widget(client))
    assert len(statements) == 1, statements


def _hand(statement: str) -> Callable[[Flask, Flask], None]:
    def change(app: Flask, other: Flask) -> None:
        url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(statement)

    return change


def _post(app: Flask, other: Flask) -> None:
    assert Reader(other.test_client()).post(A, comment="Posted elsewhere").status_code == 303


def _unapprove(app: Flask, other: Flask) -> None:
    with other.app_context():
        assert set_status(1, Status.PENDING)


def _share(app: Flask, other: Flask) -> None:
    shared = other.test_client().post(
        "/api/v1/shares", data={**A, "network": "x"}, headers=beacon_headers()
    )
    assert shared.status_code == 202


def _admin_closes(app: Flask, other: Flask) -> None:
    make_moderator(other)
    moderator = Admin(other.test_client())
    moderator.sign_in()
    assert moderator.post("/admin/articles/1/close").status_code == 303


def _settings_saved(app: Flask, other: Flask) -> None:
    with other.app_context():
        save_settings({"share_min_count": 1000})
        db.session.commit()


def _default_sort_saved(app: Flask, other: Flask) -> None:
    with other.app_context():
        save_settings({"default_sort": "newest"})
        db.session.commit()


# Each change, and what the widget shows (True) or stops showing (False) afterwards.
CHANGES = {
    "comment posted through another host": (_post, "Posted elsewhere", True),
    "comment unapproved on another host": (_unapprove, "The first words", False),
    "share counted by another host": (_share, 'class="spread-count">1<', True),
    "comments closed by the admin on another host": (_admin_closes, "Comments are closed.", True),
    "share counts hidden by the settings": (_settings_saved, 'class="spread-count">', False),
    "default order saved on another host": (
        _default_sort_saved,
        'data-sort="newest" aria-current="true"',
        True,
    ),
    "comment edited by hand in SQL": (
        _hand("UPDATE comments SET body = 'Edited by hand', body_html = NULL"),
        "Edited by hand",
        True,
    ),
    "comments closed by hand in SQL": (
        _hand("UPDATE articles SET comments_closed = true"),
        "Comments are closed.",
        True,
    ),
    "comments deleted by hand with TRUNCATE": (
        _hand("TRUNCATE comments CASCADE"),
        "The first words",
        False,
    ),
    "a setting saved by hand in SQL": (
        _hand("INSERT INTO site_settings (key, value) VALUES ('share_min_count', '1000')"),
        'class="spread-count">',
        False,
    ),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_change_anywhere_shows_on_the_next_view_after_its_notification(
    app, client, listening, other_host, change
) -> None:
    make_change, text, shown_after = CHANGES[change]
    first_comment(app)
    if "share counts" in change or "setting" in change:
        _share(app, other_host)
    before = kept(app, lambda: widget(client))
    assert (text in before) is not shown_after
    notified = listening.notifications
    make_change(app, other_host)
    until_notified(listening, notified)
    statements, after = statements_of(app, lambda: widget(client))
    assert (text in after) is shown_after, change
    assert statements, "the change was shown without reading it?"


def test_the_title_changed_by_hand_shows_in_the_json(app, client, listening) -> None:
    first_comment(app)
    assert comments_json(client)["article"]["title"] == A["title"]
    notified = listening.notifications
    _hand("UPDATE articles SET title = 'Renamed by hand'")(app, app)
    until_notified(listening, notified)
    assert comments_json(client)["article"]["title"] == "Renamed by hand"


def test_this_hosts_own_change_shows_at_once(app, client, listening) -> None:
    """A worker reads its own writes without waiting for their notification."""
    first_comment(app)
    kept(app, lambda: widget(client))
    notified = listening.notifications
    _admin_closes(app, app)
    assert "Comments are closed." in widget(client)
    assert listening.notifications >= notified  # nothing waited for the notification


def test_with_the_listener_killed_views_stay_correct(app, client, listening) -> None:
    first_comment(app)
    kept(app, lambda: widget(client))
    subscriptions = listening.subscriptions
    terminate_backend(app.config["SQLALCHEMY_DATABASE_URI"], listening.backend_pid)
    # Changed at once, before the listener has even noticed (or reconnected): the next view
    # must read the row, not trust what it knew.
    _hand("UPDATE comments SET body = 'Edited while deaf', body_html = NULL")(app, app)
    assert "Edited while deaf" in widget(client)
    # It subscribes again and forgets all it knew; then views are free again ...
    deadline = time.monotonic() + 10
    while not (listening.subscribed and listening.subscriptions > subscriptions):
        assert time.monotonic() < deadline, "the listener did not subscribe again"
        time.sleep(0.005)
    kept(app, lambda: widget(client))
    # ... and changes are pushed as before.
    notified = listening.notifications
    _hand("UPDATE comments SET body = 'Edited after'")(app, app)
    until_notified(listening, notified)
    assert "Edited after" in widget(client)


def test_a_listener_whose_ping_does_not_come_back_is_not_trusted(
    app, client, listening, monkeypatch
) -> None:
    """A connection lost without a word (or behind a pooler that drops LISTEN) stops getting
    its own pings back: from the first one missing, views read the row."""
    first_comment(app)
    kept(app, lambda: widget(client))
    received = listening._received_locked

    def deaf_to_pings(channel: str, payload: str, ping: str) -> None:
        if channel != ping:
            received(channel, payload, ping)

    monkeypatch.setattr(listening, "_received_locked", deaf_to_pings)
    deadline = time.monotonic() + 10
    while listening._awaiting is None:
        assert time.monotonic() < deadline, "no ping was sent"
        time.sleep(0.005)
    assert len(statements_of(app, lambda: widget(client))[0]) == 1


def test_a_forked_worker_never_uses_its_parents_states(app, client, listening) -> None:
    first_comment(app)
    kept(app, lambda: widget(client))
    assert listening.lookup(KEY)[0] is not UNKNOWN

    def in_child() -> bytes:  # the parent's states and listener are not the child's
        state, ticket = listening.lookup(KEY)
        return b"ok" if state is UNKNOWN and ticket is None else b"trusted"

    assert in_forked_child(in_child) == b"ok"
    assert listening.subscribed  # the parent's listener goes on


def test_the_triggers_name_the_article_or_everything(app) -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        first_comment(app)
        long_key = "k" * 2000
        with psycopg.connect(url, autocommit=True) as writer:
            writer.execute(
                "INSERT INTO articles (key, url, title, created_at, approved_count) "
                "SELECT 'bulk-' || n, 'https://a.example/', '', now(), 0 "
                "FROM generate_series(1, 150) AS n"
            )
            writer.execute(
                "INSERT INTO articles (key, url, title, created_at, approved_count) "
                "VALUES (%s, 'https://a.example/', '', now(), 0)",
                (long_key,),
            )
            writer.execute("UPDATE site_settings SET value = value")
            writer.execute("INSERT INTO site_settings (key, value) VALUES ('hold_links', '3')")
            writer.execute("DELETE FROM articles WHERE key = %s", (long_key,))
        payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=6)]
    # The post (its article created, then its revision and count raised: one notice), 150
    # articles at once, a long key (still under 8,000 bytes), the settings twice, the delete.
    assert payloads == [f"a:{KEY}", "*", f"a:{long_key}", "*", "*", f"a:{long_key}"], payloads
