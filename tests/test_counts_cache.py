"""The count API from each worker's kept counts on PostgreSQL: counts nothing has changed cost
no statement, a change made anywhere shows once its notification has arrived, and clicks still
in Redis are added to kept counts exactly once, also while a flush is half done.

"Another host" is a second app on the same database (its own engine and listener).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_py
from flask import Flask
from support.clicks import beacon_headers
from support.databases import terminate_backend
from support.push import freshly_vouched, kept, statements_of, until_notified
from support.readers import Reader

from commentsvc.articles.keys import article_ref
from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.core.redis_client import redis_breaker, redis_client
from commentsvc.db.change_listener import KnownStates, wait_until_subscribed
from commentsvc.db.kept_states import COUNTS, EXTENSION
from commentsvc.db.models import Comment, Status
from commentsvc.db.site_settings import save_settings
from commentsvc.shares import buffer
from commentsvc.shares import counts as counts_module
from commentsvc.shares import flush as share_flush

pytestmark = [
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
    pytest.mark.settings(PUSH_INVALIDATION=True, MODERATION="none", SHARE_MIN_COUNT=1),
]

URLS = [f"https://news.example/counted-{n}" for n in range(20)]
ASKED = [("url", url) for url in URLS]


@pytest.fixture
def config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The module's settings; the tests named "buffered" keep clicks in Redis until they
    flush (3600 s)."""
    settings: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("settings"))):
        settings.update(marker.kwargs)
    if "buffered" in request.node.name:
        settings.update(
            REDIS_URL=request.getfixturevalue("redis_url"),
            REDIS_PREFIX=f"commentsvc-test-{uuid.uuid4().hex}:",
            SHARE_FLUSH_SECONDS=3600,
        )
    return settings


@pytest.fixture
def listening(app: Flask) -> Iterator[KnownStates]:
    """``app``'s known states, its listener subscribed."""
    assert wait_until_subscribed(app), "the listener did not subscribe"
    yield app.extensions[EXTENSION]
    if app.config.get("REDIS_URL"):
        server = redis_py.Redis.from_url(app.config["REDIS_URL"])
        for key in server.scan_iter(app.config["REDIS_PREFIX"] + "*"):
            server.delete(key)
        server.close()


def counts(client: Any) -> dict[str, tuple[int, int]]:
    """{url: (comments, shares)} for the 20 articles, from the count API."""
    response = client.get("/api/v1/counts", query_string=ASKED)
    assert response.status_code == 200, response.get_data(as_text=True)
    articles = response.get_json()["articles"]
    return {url: (a["comments"], a["shares"]["total"]) for url, a in articles.items()}


def share(app: Flask, url: str, reader: int) -> None:
    response = app.test_client().post(
        "/api/v1/shares", data={"url": url, "network": "x"}, headers=beacon_headers(reader)
    )
    assert response.status_code == 202


def seed(app: Flask) -> dict[str, tuple[int, int]]:
    """Comments and shares on the first ten articles (n comments, n shares on the n-th)."""
    expected = {url: (0, 0) for url in URLS}
    reader = Reader(app.test_client())
    for n, url in enumerate(URLS[:10]):
        for i in range(n % 3 + 1):
            assert reader.post({"url": url}, comment=f"Comment {i} on {n}").status_code == 303
        for i in range(n % 2 + 1):
            share(app, url, reader=f"{n}-{i}")
        expected[url] = (n % 3 + 1, n % 2 + 1)
    return expected


def test_unchanged_counts_cost_no_statement(app, client, listening) -> None:
    expected = seed(app)
    assert kept(app, lambda: counts(client)) == expected
    freshly_vouched(listening)
    for _ in range(3):
        statements, again = statements_of(app, lambda: counts(client))
        assert statements == [] and again == expected, statements
    # A new article nobody asked about before is read once, then kept as well.
    response = kept(app, lambda: client.get("/api/v1/counts", query_string={"article": "new"}))
    assert response.get_json()["articles"]["new"]["comments"] == 0


def _post(app: Flask, other: Flask) -> None:
    assert Reader(other.test_client()).post({"url": URLS[0]}, comment="Later").status_code == 303


def _share(app: Flask, other: Flask) -> None:
    share(other, URLS[0], reader="late")


def _spam(app: Flask, other: Flask) -> None:
    with other.app_context():
        first = db.session.execute(db.select(Comment.id).order_by(Comment.id)).scalar()
        assert set_status(first, Status.SPAM)


def _by_hand(app: Flask, other: Flask) -> None:
    with other.app_context():
        db.session.execute(
            db.text(
                "UPDATE share_counts SET count = count + 5 "
                "WHERE article_id = (SELECT id FROM articles WHERE url = :url)"
            ),
            {"url": URLS[0]},
        )
        db.session.commit()


def _minimum_saved(app: Flask, other: Flask) -> None:
    with other.app_context():
        save_settings({"share_min_count": 1000})
        db.session.commit()


CHANGES = {
    "comment posted by another host": (_post, (2, 1)),
    "share counted by another host": (_share, (1, 2)),
    "comment marked spam by a moderator": (_spam, (0, 1)),
    "share count raised by hand in SQL": (_by_hand, (1, 6)),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_anywhere_shows_after_its_notification(
    app, client, listening, other_host, change
) -> None:
    expected = seed(app)
    assert kept(app, lambda: counts(client)) == expected
    make, first = CHANGES[change]
    notified = listening.notifications
    make(app, other_host)
    until_notified(listening, notified)
    assert counts(client) == {**expected, URLS[0]: first}
    assert kept(app, lambda: counts(client))[URLS[0]] == first


def test_a_saved_minimum_hides_kept_counts_after_its_notification(
    app, client, listening, other_host
) -> None:
    seed(app)
    display = lambda: client.get("/api/v1/counts", query_string=ASKED).get_json()  # noqa: E731
    assert kept(app, display)["articles"][URLS[1]]["shares"]["display"] == "2"
    notified = listening.notifications
    _minimum_saved(app, other_host)
    until_notified(listening, notified)
    assert display()["articles"][URLS[1]]["shares"]["display"] is None


def test_with_the_listener_killed_counts_stay_correct(app, client, listening, other_host) -> None:
    expected = seed(app)
    kept(app, lambda: counts(client))
    terminate_backend(app.config["SQLALCHEMY_DATABASE_URI"], listening.backend_pid)
    # Changed at once, before the listener has noticed: the next call must read the rows.
    _share(app, other_host)
    assert counts(client)[URLS[0]] == (expected[URLS[0]][0], expected[URLS[0]][1] + 1)


def test_buffered_clicks_add_to_kept_counts_exactly_once_through_a_flush(
    app, client, listening, other_host
) -> None:
    expected = seed(app)  # with Redis: the seed's clicks wait there too
    assert kept(app, lambda: counts(client)) == expected
    share(app, URLS[12], reader="buffered")  # a click in Redis: nothing in the database
    after_click = {**expected, URLS[12]: (0, 1)}
    assert kept(app, lambda: counts(client)) == after_click
    # Another host flushes, in its steps: the batches are moved aside, committed to the
    # database, and only then deleted from Redis. Between those steps the kept counts and the
    # batch still in Redis must not count a click twice, nor lose one.
    with other_host.app_context():
        client_of_other = redis_client()
        notified = listening.notifications
        batches = share_flush.begin_flush(client_of_other)
        assert batches
        assert counts(client) == after_click  # moved aside, not yet in the database
        for batch_id in batches:
            share_flush.apply_batch(client_of_other, batch_id)
        assert counts(client) == after_click  # in the database and still in Redis
        until_notified(listening, notified)
        assert counts(client) == after_click
        for batch_id in batches:
            share_flush.finish_batch(client_of_other, batch_id)
    assert counts(client) == after_click
    assert kept(app, lambda: counts(client)) == after_click


def test_buffered_clicks_count_once_when_a_flush_commits_between_the_reads(
    app, client, listening, other_host, monkeypatch
) -> None:
    """A flush commits between the call's look at its kept counts and its read of Redis, in
    whichever order it makes them, before the notification arrives: counted once, not lost."""
    expected = seed(app)
    with other_host.app_context():
        share_flush.flush_shares(wait=5)  # the seed's clicks: kept counts then ask of none
    assert kept(app, lambda: counts(client)) == expected
    notified = listening.notifications
    share(app, URLS[0], reader="late")  # waits in Redis: in no kept count
    # Its "clicks" notice: until it arrives this worker still believes none waits (the
    # latency the design accepts), and the flush below would be a race with it.
    until_notified(listening, notified)
    after_click = {**expected, URLS[0]: (expected[URLS[0]][0], expected[URLS[0]][1] + 1)}
    flush = FlushOnce(other_host)
    monkeypatch.setattr(counts_module, "pending_deltas", flush.after(buffer.pending_deltas))
    monkeypatch.setattr(listening, "lookup_many", flush.after(listening.lookup_many))
    assert counts(client) == after_click
    assert flush.flushed == [1]
    assert counts(client) == after_click


class FlushOnce:
    """Reads wrapped so that ``host`` flushes every buffered click, committed, right after
    the first of them returns (a flush landing between a count call's reads)."""

    def __init__(self, host: Flask) -> None:
        self.host = host
        self.flushed: list[int | None] = []

    def after(self, read: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            result = read(*args, **kwargs)
            if not self.flushed:  # after the call's first read, whichever it is
                with self.host.app_context():
                    self.flushed.append(share_flush.flush_shares(wait=5))
            return result

        return run


class CountingCalls:
    """The runs of one registered Redis script, counted (and run)."""

    def __init__(self, run: Any, script: Any) -> None:
        self.run, self.script, self.calls = run, script, 0

    def __call__(self, client: Any, script: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += script is self.script
        return self.run(client, script, *args, **kwargs)


@pytest.fixture
def redis_reads(app: Flask, monkeypatch: pytest.MonkeyPatch) -> CountingCalls:
    """The count API's reads of the clicks waiting in Redis (this app's), counted."""
    with app.app_context():
        registered = buffer.script(redis_client(), "read", buffer.READ)
    counting = CountingCalls(buffer.run_script, registered)
    monkeypatch.setattr(buffer, "run_script", counting)
    return counting


def test_buffered_clicks_are_asked_of_redis_only_while_some_wait(
    app, client, listening, other_host, redis_reads
) -> None:
    nothing = {url: (0, 0) for url in URLS}
    assert kept(app, lambda: counts(client)) == nothing
    # Redis said no click waits: later calls ask neither the database nor Redis.
    asked = redis_reads.calls
    assert counts(client) == nothing and redis_reads.calls == asked
    # A click on another host finds none waiting and says so to every worker ...
    notified = listening.notifications
    share(other_host, URLS[3], reader="first")
    until_notified(listening, notified)
    assert counts(client)[URLS[3]] == (0, 1)
    assert redis_reads.calls == asked + 1
    share(other_host, URLS[3], reader="second")  # one waits already: no announcement
    assert counts(client)[URLS[3]] == (0, 2)
    # Once flushed and gone from Redis, the counts come from the database, and Redis is not
    # asked again until another click waits.
    notified = listening.notifications
    with other_host.app_context():
        assert share_flush.flush_shares() == 2
    until_notified(listening, notified)
    assert kept(app, lambda: counts(client))[URLS[3]] == (0, 2)
    asked = redis_reads.calls
    assert counts(client)[URLS[3]] == (0, 2) and redis_reads.calls == asked


def test_buffered_clicks_are_asked_of_redis_while_the_listener_is_not_vouched_for(
    app, client, listening, other_host, redis_reads, monkeypatch
) -> None:
    """A listener that hears nothing any more (its connection lost without a word) misses
    the announcement of a click: from its first ping not coming back, Redis is asked."""
    kept(app, lambda: counts(client))
    asked = redis_reads.calls
    monkeypatch.setattr(listening, "_received_locked", lambda channel, payload, ping: None)
    deadline = time.monotonic() + 10
    while listening._awaiting is None:
        assert time.monotonic() < deadline, "no ping was sent"
        time.sleep(0.005)
    share(other_host, URLS[4], reader="unheard")
    assert counts(client)[URLS[4]] == (0, 1)
    assert redis_reads.calls > asked


def key_of(app: Flask, url: str) -> str:
    with app.test_request_context():
        return article_ref(url, None, None, app.config["ALLOWED_ORIGINS"]).key


def test_buffered_clicks_flushed_and_gone_before_their_notice_still_count(
    app, client, listening, other_host
) -> None:
    """Kept counts that left a batch to Redis are not used once the batch has gone, even if
    the flush's notification has not arrived yet: its clicks are in the database now."""
    share(other_host, URLS[5], reader="flushed")
    assert kept(app, lambda: counts(client))[URLS[5]] == (0, 1)
    key = key_of(app, URLS[5])
    before_the_flush, _ = listening.lookup(key, COUNTS)
    notified = listening.notifications
    with other_host.app_context():
        assert share_flush.flush_shares() == 1  # committed, and gone from Redis
    until_notified(listening, notified)
    # The notification came late: the counts kept before the flush are still there.
    _, ticket = listening.lookup(key, COUNTS)
    listening.remember(key, before_the_flush, ticket, COUNTS)
    assert counts(client)[URLS[5]] == (0, 1)


def test_buffered_clicks_committed_while_redis_was_away_count_once(
    app, client, listening, other_host
) -> None:
    """Counts kept while this worker could not reach Redis already hold a batch another host
    committed but could not yet delete from Redis: when Redis is back, not added again."""
    share(other_host, URLS[6], reader="once")
    notified = listening.notifications
    with other_host.app_context():
        client_of_other = redis_client()
        for batch_id in share_flush.begin_flush(client_of_other):
            share_flush.apply_batch(client_of_other, batch_id)  # its cleanup never runs
    until_notified(listening, notified)
    breaker = redis_breaker(app)
    breaker.failed()  # Redis away for this process: the counts come from the database
    try:
        assert kept(app, lambda: counts(client))[URLS[6]] == (0, 1)
    finally:
        breaker.reset()
    assert counts(client)[URLS[6]] == (0, 1)
