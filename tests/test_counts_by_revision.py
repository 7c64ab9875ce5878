"""The count API without push invalidation (SQLite, or PostgreSQL with it switched off): each
worker keeps the counts it has read and uses them while the articles' revisions, read in one
small statement, say nothing has changed; any change, by another host, a moderator, or by hand
in SQL on comments or share counts (whose triggers raise the revision), shows on the next
call, and clicks still in Redis are added exactly once, also when a flush commits mid-call."""

from __future__ import annotations

import pytest
from support.push import statements_of
from support.readers import Reader
from test_counts_cache import (
    CHANGES,
    URLS,
    FlushOnce,
    config,  # noqa: F401  (the tests named "buffered" use Redis)
    counts,
    seed,
    share,
)

from commentsvc.core.extensions import db
from commentsvc.db.site_settings import save_settings
from commentsvc.shares import counts as counts_module
from commentsvc.shares import flush as share_flush

pytestmark = [
    pytest.mark.database,
    pytest.mark.settings(PUSH_INVALIDATION=False, MODERATION="none", SHARE_MIN_COUNT=1),
]


def test_unchanged_counts_read_only_the_revisions(app, client) -> None:
    expected = seed(app)
    assert counts(client) == expected
    for _ in range(3):
        statements, again = statements_of(app, lambda: counts(client))
        assert again == expected
        assert len(statements) == 1, statements
        assert "share_counts" not in statements[0] and "approved_count" not in statements[0]


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_anywhere_shows_on_the_next_call(app, client, other_host, change) -> None:
    expected = seed(app)
    assert counts(client) == expected
    make, first = CHANGES[change]
    make(app, other_host)
    assert counts(client) == {**expected, URLS[0]: first}
    statements, again = statements_of(app, lambda: counts(client))
    assert again == {**expected, URLS[0]: first} and len(statements) == 1


def test_a_saved_minimum_shows_on_the_next_call(app, client, other_host) -> None:
    seed(app)

    def display() -> str | None:
        answer = client.get("/api/v1/counts", query_string={"url": URLS[1]}).get_json()
        return answer["articles"][URLS[1]]["shares"]["display"]

    assert display() == "2"
    assert display() == "2"
    with other_host.app_context():
        save_settings({"share_min_count": 1000})
        db.session.commit()
    assert display() is None


def test_an_article_stored_after_its_counts_were_kept_shows(app, client) -> None:
    seed(app)
    never = "https://news.example/counted-later"
    answer = lambda: client.get("/api/v1/counts", query_string={"url": never}).get_json()  # noqa: E731
    assert answer()["articles"][never]["comments"] == 0
    assert answer()["articles"][never]["comments"] == 0  # now kept as absent
    assert counts(client)  # the others, kept too

    assert Reader(app.test_client()).post({"url": never}, comment="First!").status_code == 303
    assert answer()["articles"][never]["comments"] == 1


def test_another_article_row_under_a_kept_key_is_not_taken_for_the_kept_one(app, client) -> None:
    """Kept counts are matched on the article's id as well as its revision: a row stored
    again under a key (by hand) starts its revisions anew and may reach the kept one."""
    expected = seed(app)
    assert counts(client) == expected
    with app.app_context():
        select = "SELECT id, key, revision FROM articles WHERE url = :url"
        first, second = (
            db.session.execute(db.text(select), {"url": url}).one() for url in URLS[:2]
        )
        update = "UPDATE articles SET key = :key, revision = :revision WHERE id = :id"
        db.session.execute(db.text(update), {"key": "moving", "revision": 0, "id": first.id})
        for row, now in ((second, first), (first, second)):
            db.session.execute(
                db.text(update), {"key": now.key, "revision": now.revision, "id": row.id}
            )
        db.session.commit()
    swapped = {**expected, URLS[0]: expected[URLS[1]], URLS[1]: expected[URLS[0]]}
    assert swapped != expected
    assert counts(client) == swapped


def test_buffered_clicks_count_once_when_a_flush_commits_between_the_reads(
    app, client, other_host, monkeypatch
) -> None:
    """A flush commits between the call's two reads (Redis and the revisions), in whichever
    order the call makes them: the click it moves is counted once, never lost for a call."""
    expected = seed(app)
    with other_host.app_context():
        share_flush.flush_shares(wait=5)  # the seed's clicks: kept counts then ask of none
    assert counts(client) == expected
    assert counts(client) == expected
    share(app, URLS[0], reader="late")  # waits in Redis: in no kept count
    after_click = {**expected, URLS[0]: (expected[URLS[0]][0], expected[URLS[0]][1] + 1)}

    flush = FlushOnce(other_host)
    for name in ("pending_deltas", "kept_by_revision"):
        monkeypatch.setattr(counts_module, name, flush.after(getattr(counts_module, name)))
    assert counts(client) == after_click
    assert flush.flushed == [1]
    assert counts(client) == after_click
