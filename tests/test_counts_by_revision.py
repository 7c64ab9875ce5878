"""The count API without push invalidation (SQLite, or PostgreSQL with it switched off): each
worker keeps the counts it has read and uses them while the articles' revisions, read in one
small statement, say nothing has changed; any change, by another host, a moderator or by hand
in SQL, shows on the next call."""

from __future__ import annotations

import pytest
from support.push import statements_of
from support.readers import Reader
from test_counts_cache import CHANGES, URLS, counts, seed

from commentsvc.core.extensions import db
from commentsvc.db.site_settings import save_settings

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
