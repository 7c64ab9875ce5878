"""Likes: one per reader per comment, no cookie and no stored IP, bots not counted."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from commentsvc.core.extensions import db

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
