"""Likes: one per reader per comment, no cookie and no stored IP, bots not counted."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from support.admin import add_article, add_comment

from commentsvc.core.extensions import db
from commentsvc.db.models import Status, utcnow

A = {"url": "https://news.example/a"}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
OTHER_BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1"


def like(client, comment_id: int, user_agent: str = BROWSER, **kwargs):
    return client.post(
        f"/api/v1/comments/{comment_id}/like", headers={"User-Agent": user_agent}, **kwargs
    )


def stored_like_rows(app) -> list[tuple]:
    with app.app_context():
        return [tuple(r) for r in db.session.execute(sa.text("SELECT * FROM comment_likes"))]


@pytest.mark.settings(MODERATION="none")
def test_one_like_per_reader_per_comment(app, reader, client) -> None:
    reader.post(comment="a good point")
    first = like(client, 1)
    assert first.status_code == 200 and first.get_json() == {"counted": True, "likes": 1}
    assert like(client, 1).get_json() == {"counted": False, "likes": 1}
    # Another browser on the same network is another reader.
    assert like(client, 1, OTHER_BROWSER).get_json() == {"counted": True, "likes": 2}
    assert client.get("/api/v1/comments", query_string=A).get_json()["comments"][0]["likes"] == 2
    # Nothing stored names the reader: no IP, no user agent, no cookie set.
    rows = stored_like_rows(app)
    assert len(rows) == 2 and all(len(r) == 2 and len(r[1]) == 64 for r in rows)
    assert all("127.0.0" not in str(r) and "Mozilla" not in str(r) for r in rows)
    assert "Set-Cookie" not in first.headers


@pytest.mark.settings(MODERATION="none")
def test_bots_are_not_counted(app, reader, client) -> None:
    reader.post(comment="a good point")
    for agent in ("", "curl/8.5", "Mozilla/5.0 (compatible; Googlebot/2.1)", "HeadlessChrome/120"):
        assert like(client, 1, agent).get_json() == {"counted": False, "likes": 0}
    assert stored_like_rows(app) == []


def test_only_published_comments_can_be_liked(reader, client) -> None:
    reader.post(comment="held for moderation")
    for comment_id in (1, 99):
        response = like(client, comment_id)
        assert response.status_code == 404 and "not published" in response.get_json()["message"]


@pytest.mark.settings(MODERATION="none")
def test_a_like_from_another_site_is_refused(reader, client) -> None:
    reader.post(comment="a good point")
    response = client.post(
        "/api/v1/comments/1/like",
        headers={"User-Agent": BROWSER, "Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert like(client, 1).get_json()["likes"] == 1


@pytest.mark.settings(MODERATION="none", LIKES=False)
def test_likes_can_be_switched_off(reader, client) -> None:
    reader.post(comment="a good point")
    assert like(client, 1).status_code == 404
    assert "comment-like" not in reader.widget(**A).get_data(as_text=True)


@pytest.mark.settings(MODERATION="none")
def test_the_button_works_without_javascript_and_the_count_shows(reader, client) -> None:
    reader.post(comment="a good point")
    page = reader.widget(**A).get_data(as_text=True)
    assert 'action="/api/v1/comments/1/like"' in page
    back = "/embed?url=https%3A%2F%2Fnews.example%2Fa"
    response = like(client, 1, data={"back": back})
    assert response.status_code == 303 and response.location.endswith(back + "#comment-1")
    # The cached page is replaced: the like raised the article's revision.
    assert 'data-likes="1"' in reader.widget(**A).get_data(as_text=True)
    # Only our own widget's pages are a place to go back to.
    assert like(client, 1, OTHER_BROWSER, data={"back": "https://evil.example/"}).status_code == 200


@pytest.mark.settings(MODERATION="none", LIKES_PER_PREFIX=3)
def test_one_network_rotating_its_user_agent_counts_three_likes_a_day(app, reader, client) -> None:
    reader.post(comment="a good point")
    answers = [like(client, 1, f"{BROWSER} rotated-{n}").get_json() for n in range(6)]
    assert [a["counted"] for a in answers] == [True, True, True, False, False, False]
    assert answers[-1] == {"counted": False, "likes": 3, "limited": True}
    # A repeat is told apart from the network's limit (the widget words them differently).
    assert like(client, 1, f"{BROWSER} rotated-0").get_json() == {"counted": False, "likes": 3}
    # Nothing of the refused ones was kept: a later day's salt starts afresh.
    assert len(stored_like_rows(app)) == 3
    # Another network is other readers.
    other = like(client, 1, f"{BROWSER} rotated-0", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.get_json() == {"counted": True, "likes": 4}


@pytest.mark.settings(MODERATION="none", LIKES_PER_PREFIX=0)
def test_no_network_limit_when_switched_off(reader, client) -> None:
    reader.post(comment="a good point")
    answers = [like(client, 1, f"{BROWSER} rotated-{n}").get_json() for n in range(5)]
    assert answers[-1] == {"counted": True, "likes": 5}


@pytest.mark.settings(MODERATION="none", RATELIMIT_ENABLED=True, RATE_LIMIT_LIKES="3 per minute")
def test_likes_are_rate_limited(reader, client) -> None:
    reader.post(comment="a good point")
    statuses = [like(client, 1, f"{BROWSER} n{n}").status_code for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


@pytest.mark.settings(MODERATION="none")
def test_exactly_once_under_concurrency(app, reader) -> None:
    """Many readers at once, each clicking several times at the same instant."""
    reader.post(comment="a good point")
    readers, repeats = 8, 4
    start = threading.Barrier(readers * repeats)
    results: list[dict] = []
    errors: list[BaseException] = []

    def click(n: int) -> None:
        client = app.test_client()
        try:
            start.wait()
            # Each reader on a network of its own (one network counts LIKES_PER_PREFIX).
            address = {"REMOTE_ADDR": f"10.0.{n}.1"}
            response = like(client, 1, f"{BROWSER} reader-{n}", environ_base=address)
            assert response.status_code == 200, response.get_data(as_text=True)
            results.append(response.get_json())
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [
        threading.Thread(target=click, args=(n,)) for n in range(readers) for _ in range(repeats)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r["counted"] for r in results) == readers
    with app.app_context():
        count = db.session.execute(sa.text("SELECT like_count FROM comments WHERE id = 1")).scalar()
    assert count == readers and len(stored_like_rows(app)) == readers


CLOSED = {"error": "comments_closed", "message": "Comments are closed."}


@pytest.mark.settings(MODERATION="none")
def test_a_closed_article_takes_no_likes_and_says_its_counts_in_words(
    app, admin, reader, client
) -> None:
    reader.post(comment="a good point")
    assert like(client, 1).get_json() == {"counted": True, "likes": 1}
    # Rendered (and kept: the page cache, the comment's fragment) while open: a Like button.
    assert "comment-like-button" in reader.widget(**A).get_data(as_text=True)
    assert admin.post("/admin/articles/1/close").status_code == 303

    page = reader.widget(**A).get_data(as_text=True)
    assert "comment-like-button" not in page and "/api/v1/comments/1/like" not in page
    assert '<p class="comment-likes" data-likes="1">1 like</p>' in page
    back = "/embed?url=https%3A%2F%2Fnews.example%2Fa"
    # The script's call and the form without JavaScript (a page shown before the close).
    for response in (like(client, 1, OTHER_BROWSER), like(client, 1, data={"back": back})):
        assert response.status_code == 403 and response.get_json() == CLOSED
    # Worded as a post to the closed article is refused, in the reader's language too.
    refused_post = reader.post_json(comment="too late", email="late@example.com")
    assert (
        refused_post.status_code == 403 and refused_post.get_json()["message"] == CLOSED["message"]
    )
    german = like(client, 1, OTHER_BROWSER, query_string={"lang": "de"}).get_json()
    assert german["message"] == "Die Kommentare sind geschlossen."
    # Nothing stored: the one like from before the close, and its count.
    assert len(stored_like_rows(app)) == 1
    assert client.get("/api/v1/comments", query_string=A).get_json()["comments"][0]["likes"] == 1

    # Opened again: the button is back, and likes count again.
    assert admin.post("/admin/articles/1/open").status_code == 303
    assert "comment-like-button" in reader.widget(**A).get_data(as_text=True)
    assert like(client, 1, OTHER_BROWSER).get_json() == {"counted": True, "likes": 2}


@pytest.mark.settings(MODERATION="none", CLOSE_AFTER_DAYS=30)
def test_an_article_closed_by_its_age_takes_no_likes_and_stores_nothing(
    app, reader, client
) -> None:
    old = add_article(app, key=A["url"], created_at=utcnow() - timedelta(days=31))
    liked = add_comment(app, old, "from last month", Status.APPROVED, like_count=3)
    unliked = add_comment(app, old, "nobody liked this", Status.APPROVED)
    page = reader.widget(**A).get_data(as_text=True)
    assert "Comments are closed." in page and "comment-like-button" not in page
    assert '<p class="comment-likes" data-likes="3">3 likes</p>' in page
    assert page.count('class="comment-likes"') == 1  # no "0 likes" under the other one
    for comment_id in (liked, unliked):
        response = like(client, comment_id)
        assert response.status_code == 403 and response.get_json() == CLOSED
    assert stored_like_rows(app) == []
    with app.app_context():
        # Not even today's salt: refused before anything is written.
        assert db.session.execute(sa.text("SELECT count(*) FROM share_salts")).scalar() == 0
        counts = db.session.execute(sa.text("SELECT like_count FROM comments ORDER BY id"))
        assert [row[0] for row in counts] == [3, 0]
