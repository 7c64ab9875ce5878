"""Kept states on SQLite (commentsvc/db/sqlite_versions.py): a view of an unchanged article
reads no row, and a commit made anywhere (another app on the same file, standing for another
worker; the admin; sqlite3 by hand; this app itself) shows on the very next view, with no
notification to wait for."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

import pytest
from flask import Flask
from support.forks import in_forked_child
from support.push import statements_of
from support.readers import Reader
from test_push_invalidation import CHANGES as PG_CHANGES
from test_push_invalidation import KEY, _post, _share, comments_json, first_comment, widget

from commentsvc import create_app
from commentsvc.db.kept_states import EXTENSION, UNKNOWN
from commentsvc.db.sqlite_versions import _INHERITED, FileVersionStates

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.settings(PUSH_INVALIDATION=True, MODERATION="none", SHARE_MIN_COUNT=1),
]


def states_of(app: Flask) -> FileVersionStates:
    states = app.extensions[EXTENSION]
    assert isinstance(states, FileVersionStates)
    return states


def _hand(statement: str) -> Callable[[Flask, Flask], None]:
    def change(app: Flask, other: Flask) -> None:
        path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:  # commits on leaving
            connection.execute(statement)
        connection.close()

    return change


# Each change, and what the widget shows (True) or stops showing (False) afterwards: the
# PostgreSQL test's changes through another app ("host" there, a worker here), and the same
# kinds by hand in sqlite3.
CHANGES = {
    **{
        name.replace("host", "worker"): change
        for name, change in PG_CHANGES.items()
        if "by hand" not in name
    },
    "comment edited by hand in sqlite3": (
        _hand("UPDATE comments SET body = 'Edited by hand', body_html = NULL"),
        "Edited by hand",
        True,
    ),
    "comments closed by hand in sqlite3": (
        _hand("UPDATE articles SET comments_closed = 1"),
        "Comments are closed.",
        True,
    ),
    "comments deleted by hand in sqlite3": (
        _hand("DELETE FROM comments"),
        "The first words",
        False,
    ),
    "a setting saved by hand in sqlite3": (
        _hand("INSERT INTO site_settings (key, value) VALUES ('share_min_count', '1000')"),
        'class="spread-count">',
        False,
    ),
}


def test_a_repeated_view_reads_no_row(app, client) -> None:
    first_comment(app)
    assert "The first words" in widget(client)
    for _ in range(3):
        statements, again = statements_of(app, lambda: widget(client))
        assert statements == [] and "The first words" in again, statements
    comments_json(client)
    statements, body = statements_of(app, lambda: comments_json(client))
    assert statements == [] and [c["body"] for c in body["comments"]] == ["The first words"]
    counts = lambda: client.get("/api/v1/counts", query_string={"url": KEY})  # noqa: E731
    assert counts().get_json()["articles"][KEY]["comments"] == 1
    statements, again = statements_of(app, counts)
    assert statements == [] and again.get_json()["articles"][KEY]["comments"] == 1


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_change_anywhere_shows_on_the_next_view(app, client, other_host, change) -> None:
    make_change, text, shown_after = CHANGES[change]
    first_comment(app)
    if "share counts" in change or "setting" in change:
        _share(app, other_host)
    widget(client)
    before = widget(client)
    assert statements_of(app, lambda: widget(client))[0] == []  # kept
    assert (text in before) is not shown_after
    make_change(app, other_host)
    statements, after = statements_of(app, lambda: widget(client))
    assert (text in after) is shown_after, change
    assert statements, "the change was shown without reading it?"


def test_this_apps_own_change_shows_at_once(app, client) -> None:
    first_comment(app)
    widget(client)
    assert Reader(app.test_client()).post({"url": KEY}, comment="Mine too").status_code == 303
    assert "Mine too" in widget(client)


def test_a_row_read_before_a_commit_is_never_kept_past_it(app, other_host) -> None:
    """A view reads a row, another worker commits, then the view keeps what it read: the
    next lookup sees the commit's version and does not serve it."""
    states = states_of(app)
    with app.app_context():
        state, ticket = states.lookup("race")
        assert state is UNKNOWN and ticket is not None
        _post(app, other_host)  # a commit lands after the read ...
        states.lookup("another article")  # ... and another view has seen its version
        states.remember("race", "read before the commit", ticket)
        assert states.lookup("race")[0] is UNKNOWN
        # Without a commit in between, the same is kept.
        _, ticket = states.lookup("race")
        states.remember("race", "read after it", ticket)
        assert states.lookup("race")[0] == "read after it"


def test_when_the_version_cannot_be_read_every_view_reads_the_row(app, client) -> None:
    first_comment(app)
    widget(client)
    states = states_of(app)
    assert states.lookup(KEY)[0] is not UNKNOWN
    states._connection.close()  # the next PRAGMA fails
    assert states.lookup(KEY) == (UNKNOWN, None)
    # A new connection the time after, and views are kept again.
    widget(client)
    assert statements_of(app, lambda: widget(client))[0] == []


def test_a_forked_worker_never_uses_its_parents_states(app, client) -> None:
    first_comment(app)
    widget(client)
    states = states_of(app)
    assert states.lookup(KEY)[0] is not UNKNOWN
    parents = states._connection

    def in_child() -> bytes:  # the parent's states and connection are not the child's
        state, _ = states.lookup(KEY)
        # The parent's connection is left alone: kept referenced, never used or closed.
        # (Other apps' states alive in this process are reset at the fork too: anywhere.)
        kept = any(connection is parents for connection in _INHERITED)
        own = states._connection not in (None, parents) and kept
        return b"ok" if state is UNKNOWN and own else b"trusted"

    assert in_forked_child(in_child) == b"ok"
    assert states.lookup(KEY)[0] is not UNKNOWN  # the parent's go on


def test_only_a_database_file_keeps_states(database_url, tmp_path) -> None:
    def extension(url: str, push: bool = True) -> object:
        app = create_app(
            {"SECRET_KEY": "test-secret", "DATABASE_URL": url, "PUSH_INVALIDATION": push}
        )
        return app.extensions.get(EXTENSION)

    assert isinstance(extension(f"sqlite:///{tmp_path}/file.sqlite3"), FileVersionStates)
    assert extension(f"sqlite:///{tmp_path}/off.sqlite3", push=False) is None
    # In memory, each connection has a database of its own: nothing to ask about.
    assert extension("sqlite://") is None


def test_a_database_file_replaced_or_deleted_is_never_taken_for_the_old_one(
    app, client, tmp_path
) -> None:
    """A backup restored with mv (or a file deleted) is another database: what was kept of
    the old file is forgotten, and its connection is not asked again."""
    first_comment(app)
    widget(client)
    states = states_of(app)
    assert states.lookup(KEY)[0] is not UNKNOWN
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    copy = tmp_path / "restored.sqlite3"
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    target.close()
    os.replace(copy, path)
    assert states.lookup(KEY)[0] is UNKNOWN
    widget(client)
    assert states.lookup(KEY)[0] is not UNKNOWN  # kept again, from the new file
    os.rename(path, tmp_path / "aside.sqlite3")
    try:
        assert states.lookup(KEY) == (UNKNOWN, None)
    finally:
        os.rename(tmp_path / "aside.sqlite3", path)
