"""A new comment on PostgreSQL starts from the article's row as this worker's views keep it
(commentsvc.db.change_listener): no read of it while nothing changed, and a change made
anywhere (comments closed by a moderator on another host, or by hand in SQL) still refuses
the post once its notification has arrived, or at once while the listener is not vouched for.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import event, text
from support.admin import Admin, make_moderator
from support.databases import terminate_backend
from support.push import freshly_vouched, kept, statements_of, until_notified
from support.readers import Reader

from commentsvc.articles.keys import normalise_url
from commentsvc.articles.rows import known_article_state
from commentsvc.comments import posting
from commentsvc.core.extensions import db
from commentsvc.db import change_listener
from commentsvc.db.change_listener import KnownStates
from commentsvc.db.kept_states import _CHANGED_ONLY, UNKNOWN, changing_only
from commentsvc.db.models import Comment

pytestmark = [
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
    pytest.mark.settings(PUSH_INVALIDATION=True, MODERATION="none"),
]

URL = "https://news.example/a"
KEY = normalise_url(URL)
# Only the article state's statement gathers the saved settings into one JSON object.
STATE_READ = "json_object_agg"


def token(client: Any) -> str:
    return client.get("/api/v1/form-token", query_string={"url": URL}).get_json()["token"]


def keep_row(app: Flask, client: Any) -> None:
    """View the widget until this worker keeps the article's row."""
    kept(app, lambda: client.get("/embed", query_string={"url": URL}).status_code)


def stored(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(db.select(Comment.body).order_by(Comment.id)))


def test_a_post_on_a_kept_article_does_not_read_its_row(app, client, reader, listening) -> None:
    assert reader.post_json(comment="The first").status_code == 201
    keep_row(app, client)
    form_token = token(client)
    freshly_vouched(listening)
    statements, answer = statements_of(
        app, lambda: reader.post_json(comment="The second", name="Bo", token=form_token)
    )
    assert answer.status_code == 201, answer.get_json()
    assert "2 Responses" in answer.get_json()["heading_html"]
    assert not [s for s in statements if STATE_READ in s], statements
    assert any("INSERT INTO comments" in s for s in statements)


def test_comments_closed_on_another_host_refuse_the_next_post(
    app, client, reader, listening, other_host
) -> None:
    assert reader.post_json(comment="The first").status_code == 201
    keep_row(app, client)
    form_token = token(client)
    notified = listening.notifications
    make_moderator(other_host)
    moderator = Admin(other_host.test_client())
    moderator.sign_in()
    assert moderator.post("/admin/articles/1/close").status_code == 303
    until_notified(listening, notified)
    refused = reader.post_json(comment="Too late", name="Bo", token=form_token)
    assert refused.status_code == 403, refused.get_json()
    assert stored(app) == ["The first"]


def put_back(states: KnownStates, key: str, row: Any) -> None:
    """Keep ``row`` as the article's state again, as if a change's notification were still on
    its way (the window between another host's commit and this worker hearing of it)."""
    deadline = time.monotonic() + 10
    while True:
        _, ticket = states.lookup(key)
        if ticket is not None:
            states.remember(key, row, ticket)
            if states.lookup(key)[0] is row:
                return
        assert time.monotonic() < deadline, "the listener never vouched for its states"
        time.sleep(0.002)


@pytest.fixture
def unpinged(listening: KnownStates, monkeypatch: pytest.MonkeyPatch) -> KnownStates:
    """The listener with its pings put off (once the one already planned is back): kept rows
    stay trusted until a notification arrives, so a post surely starts from the kept row."""
    # Patched only once no ping is in flight: the listener schedules its next ping when it
    # sends one, so a ping sent just before the patch could take the hour-long interval while
    # coming back from before the wait began, and no later ping would ever come.
    freshly_vouched(listening)
    monkeypatch.setattr(change_listener, "PING_SECONDS", 3600.0)
    monkeypatch.setattr(change_listener, "LEASE_SECONDS", 3600.0)
    # A wait, not a timing: CI once saw no ping within the default 10 s under load.
    freshly_vouched(listening, timeout=30.0)
    return listening


def test_a_close_not_yet_heard_of_still_refuses_the_post(app, client, reader, unpinged) -> None:
    """Closed on another host a moment ago: the kept row still says open, the insert does not."""
    assert reader.post_json(comment="The first").status_code == 201
    keep_row(app, client)
    open_row, _ = unpinged.lookup(KEY)
    assert open_row is not UNKNOWN and not open_row.comments_closed
    form_token = token(client)
    notified = unpinged.notifications
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("UPDATE articles SET comments_closed = true")
    until_notified(unpinged, notified)
    put_back(unpinged, KEY, open_row)
    statements, refused = statements_of(
        app, lambda: reader.post_json(comment="Too late", name="Bo", token=form_token)
    )
    assert not [s for s in statements if STATE_READ in s], "the post did not use the kept row"
    assert refused.status_code == 403, refused.get_json()
    assert stored(app) == ["The first"]


@pytest.mark.settings(FLOOD_SECONDS=0)
def test_a_double_submit_through_two_hosts_stores_one_comment(
    app, client, reader, unpinged, other_host
) -> None:
    """The first copy creates the article on another host; this worker still keeps the
    article as absent when the second copy arrives, and the duplicate check must see it."""
    keep_row(app, client)
    absent_row, _ = unpinged.lookup(KEY)
    assert absent_row is not UNKNOWN and absent_row.id is None
    form_token = token(client)
    notified = unpinged.notifications
    elsewhere = Reader(other_host.test_client())
    assert elsewhere.post_json(comment="Same words").status_code == 201
    until_notified(unpinged, notified)
    put_back(unpinged, KEY, absent_row)
    again = reader.post_json(comment="Same words", token=form_token)
    assert again.status_code == 409, again.get_json()
    assert stored(app) == ["Same words"]


def test_with_the_listener_killed_a_post_reads_the_row(app, client, reader, listening) -> None:
    """Closed by hand in SQL while nobody listens: no notification, and still refused."""
    assert reader.post_json(comment="The first").status_code == 201
    keep_row(app, client)
    form_token = token(client)
    terminate_backend(app.config["SQLALCHEMY_DATABASE_URI"], listening.backend_pid)
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("UPDATE articles SET comments_closed = true")
    refused = reader.post_json(comment="Too late", name="Bo", token=form_token)
    assert refused.status_code == 403, refused.get_json()
    assert stored(app) == ["The first"]


def test_a_post_forgets_only_its_own_article_in_its_worker(app, client, reader, listening) -> None:
    """The posting worker shows its comment at once and still keeps the other articles."""
    other = "https://news.example/other"
    assert reader.post_json(comment="The first").status_code == 201
    assert reader.post_json(url=other, comment="Elsewhere").status_code == 201
    kept(app, lambda: client.get("/embed", query_string={"url": other}).status_code)
    keep_row(app, client)
    form_token = token(client)
    notified = listening.notifications
    assert reader.post_json(comment="The second", name="Bo", token=form_token).status_code == 201
    assert "The second" in client.get("/embed", query_string={"url": URL}).get_data(as_text=True)
    until_notified(listening, notified)
    deadline = time.monotonic() + 10
    row, ticket = listening.lookup(other)
    while ticket is None:  # a notification still unread on the socket: asked again
        assert time.monotonic() < deadline
        time.sleep(0.002)
        row, ticket = listening.lookup(other)
    assert row is not UNKNOWN, "the post made its worker forget another article"


def test_a_declaration_ends_with_its_transaction(app, listening) -> None:
    """Committed, rolled back or left open: a later commit on the same pooled connection
    never inherits a declaration (it would forget too little)."""
    with app.app_context(), db.engine.connect() as connection:
        info = connection.info
        with pytest.raises(RuntimeError), connection.begin():
            changing_only(connection, "rolled-back")
            raise RuntimeError
        assert _CHANGED_ONLY not in info
        with connection.begin():
            changing_only(connection, "committed")
        assert _CHANGED_ONLY not in info
        connection.begin()
        changing_only(connection, "left-open")
    assert _CHANGED_ONLY not in info


@pytest.mark.parametrize("through", ["core", "session"])
def test_a_row_read_while_a_commit_lands_is_not_kept(app, client, reader, unpinged, through):
    """Another thread's view that reads the row between the commit's forgetting (SQLAlchemy's
    "commit" event comes before the COMMIT) and the COMMIT itself keeps the old row: it must
    be forgotten again, or this worker would not read its own write until the notification
    came (here, none comes: the triggers are off for the change)."""
    assert reader.post_json(comment="The first").status_code == 201
    keep_row(app, client)
    kept_in_the_gap = []

    def view_in_the_gap(connection: Any) -> None:
        if connection.info.pop("test.gap", False):
            known_article_state(KEY)
            row, _ = unpinged.lookup(KEY)
            kept_in_the_gap.append(row)

    with app.app_context():
        engine = db.engine
        event.listen(engine, "commit", view_in_the_gap)  # after the listener's own
        try:
            if through == "core":
                with engine.connect() as connection, connection.begin():
                    connection.execute(text("SET LOCAL session_replication_role = replica"))
                    connection.execute(text("UPDATE articles SET title = 'Renamed'"))
                    connection.info["test.gap"] = True
            else:
                db.session.execute(text("SET LOCAL session_replication_role = replica"))
                db.session.execute(text("UPDATE articles SET title = 'Renamed'"))
                db.session.connection().info["test.gap"] = True
                db.session.commit()
        finally:
            event.remove(engine, "commit", view_in_the_gap)
    assert [row.title for row in kept_in_the_gap] == [""], "the gap's view kept nothing"
    row, ticket = unpinged.lookup(KEY)
    assert ticket is not None, "the listener stopped vouching: the test proves nothing"
    assert row is UNKNOWN, f"the row read before the COMMIT is still kept: {row}"
    page = client.get("/api/v1/comments", query_string={"url": URL}).get_json()
    assert page["article"]["title"] == "Renamed"


def test_a_declaration_inside_a_savepoint_forgets_everything(app, unpinged) -> None:
    """The savepoint that declared its article is rolled back; the transaction goes on to
    change another: its commit must not keep that other article."""
    with app.app_context():
        for key in ("declared", "other"):
            put_back(unpinged, key, "a kept row")
        with db.engine.connect() as connection, connection.begin():
            savepoint = connection.begin_nested()
            changing_only(connection, "declared")
            savepoint.rollback()
    row, ticket = unpinged.lookup("other")
    assert ticket is not None, "the listener stopped vouching: the test proves nothing"
    assert row is UNKNOWN


def test_a_forget_on_a_thread_that_holds_the_lock_does_not_hang(app, unpinged) -> None:
    """A connection the garbage collector returns to the pool runs its "checkin" event, so
    ``forget_again``, on whatever thread it interrupts: maybe one inside the states' lock."""
    with app.app_context():
        put_back(unpinged, "kept", "a kept row")
    done = threading.Event()

    def interrupted_inside_the_lock() -> None:
        with unpinged._lock:
            unpinged.forget_again({change_listener._FORGET_AGAIN: ["kept"]})
        done.set()

    threading.Thread(target=interrupted_inside_the_lock, daemon=True).start()
    assert done.wait(5), "forget_again waited for a lock its own thread holds"
    row, ticket = unpinged.lookup("kept")
    assert ticket is not None, "the listener stopped vouching: the test proves nothing"
    assert row is UNKNOWN


def test_a_row_not_kept_rides_in_the_sender_locks_round_trip(app, reader, listening) -> None:
    """Each post makes its worker forget its article, so on a busy article every post reads
    the row: in the statement that takes the sender's locks, not in one of its own."""
    assert reader.post_json(comment="The first").status_code == 201
    statements, answer = statements_of(
        app, lambda: reader.post_json(comment="The second", name="Bo", email="bo@example.com")
    )
    assert answer.status_code == 201, answer.get_json()
    locking = [s for s in statements if "pg_advisory_xact_lock" in s]
    assert len(locking) == 1 and STATE_READ in locking[0], statements
    assert [s for s in statements if STATE_READ in s] == locking


@pytest.mark.settings(FLOOD_SECONDS=0)
def test_a_copy_that_waited_for_the_senders_turn_sees_the_article_the_first_created(
    app, other_host, monkeypatch
) -> None:
    """A double submit of a first comment: the second copy reads the article (absent) in the
    statement that then waits for the first copy's locks; once it has them it must read the
    article again, or the duplicate check looks for the first copy on no article at all."""
    first_inside, second_waits = threading.Event(), threading.Event()
    real_emit = posting.emit

    def emit_then_wait(connection: Any, *args: Any, **kwargs: Any) -> None:
        real_emit(connection, *args, **kwargs)
        if threading.current_thread().name == "first-copy":
            first_inside.set()  # inserted, locks held, not yet committed
            assert second_waits.wait(30), "the second copy never waited for the locks"

    monkeypatch.setattr(posting, "emit", emit_then_wait)
    answers: dict[str, Any] = {}
    tokens = {
        name: token(host.test_client()) for name, host in (("first", other_host), ("second", app))
    }

    def post(name: str, host: Flask) -> None:
        answers[name] = Reader(host.test_client()).post_json(
            comment="Same words", token=tokens[name]
        )

    first = threading.Thread(target=post, args=("first", other_host), name="first-copy")
    first.start()
    assert first_inside.wait(30)
    second = threading.Thread(target=post, args=("second", app), name="second-copy")
    second.start()
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as connection:
        deadline = time.monotonic() + 30
        while not connection.execute(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone():
            assert time.monotonic() < deadline, "the second copy never waited for the locks"
            time.sleep(0.01)
    second_waits.set()
    first.join(30)
    second.join(30)
    assert answers["first"].status_code == 201, answers["first"].get_json()
    assert answers["second"].status_code == 409, answers["second"].get_json()
    assert stored(app) == ["Same words"]


@pytest.mark.settings(DB_LOCK_TIMEOUT_MS=30_000)
@pytest.mark.parametrize(
    "kind",
    [
        "published",
        pytest.param("held", marks=pytest.mark.settings(MODERATION="all")),
    ],
)
def test_a_close_committed_while_the_post_waits_for_the_row_refuses_it(
    app, client, reader, listening, kind
) -> None:
    """The post's statement took its snapshot (comments open), then waited for the article's
    row, which a moderator held and closed: the row as locked, not the snapshot, decides,
    for a post that counts and for one held for moderation alike."""
    assert reader.post_json(comment="The first").status_code in (201, 202)
    form_token = token(client)
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
    answers: list[Any] = []
    with psycopg.connect(url) as moderator:
        moderator.execute("SELECT 1 FROM articles WHERE key = %s FOR UPDATE", [KEY])
        posting_thread = threading.Thread(
            target=lambda: answers.append(
                reader.post_json(comment="Too late", name="Bo", token=form_token)
            )
        )
        posting_thread.start()
        with psycopg.connect(url, autocommit=True) as watcher:
            deadline = time.monotonic() + 30
            while not watcher.execute(
                "SELECT 1 FROM pg_locks WHERE locktype IN ('transactionid', 'tuple') "
                "AND NOT granted AND pid IN (SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database())"
            ).fetchone():
                assert time.monotonic() < deadline, "the post never waited for the row"
                time.sleep(0.01)
        moderator.execute("UPDATE articles SET comments_closed = true WHERE key = %s", [KEY])
        moderator.commit()
    posting_thread.join(30)
    assert answers[0].status_code == 403, answers[0].get_json()
    assert stored(app) == ["The first"]


def test_a_forget_run_on_the_thread_inside_remember_is_not_undone(app, unpinged) -> None:
    """The garbage collector returns a connection (its checkin forgets the article) while the
    same thread is inside ``remember`` for that article: the state read before the forget
    must not stay kept."""
    row, ticket = unpinged.lookup("kept")
    assert ticket is not None, "the listener stopped vouching: the test proves nothing"

    class ForgetOnFirstGet(dict):
        fired = False

        def get(self, key: Any, default: Any = None) -> Any:
            if not self.fired:
                self.fired = True  # as a checkin's forget_again would, on this thread
                unpinged.forget_again({change_listener._FORGET_AGAIN: [key]})
            return super().get(key, default)

    unpinged._known = ForgetOnFirstGet(unpinged._known)
    unpinged.remember("kept", "read before the forget", ticket)
    assert unpinged._known.fired
    assert unpinged.lookup("kept")[0] is UNKNOWN
