"""Threads read oldest first, newest first or most liked first, each paginated by keyset."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from commentsvc.core.extensions import db

A = {"url": "https://news.example/a"}


def set_likes(app, likes: dict[int, int]) -> None:
    with app.app_context():
        for comment_id, count in likes.items():
            db.session.execute(
                sa.text("UPDATE comments SET like_count = :n WHERE id = :id"),
                {"n": count, "id": comment_id},
            )
        db.session.commit()


def read_all(client, sort: str | None) -> list[list[int]]:
    """Every page of the API in ``sort``, following ``next``; the ids of each page."""
    pages, cursor = [], None
    while True:
        params = {**A, **({"sort": sort} if sort else {}), **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/comments", query_string=params)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        pages.append([c["id"] for c in body["comments"] if c["parent_id"] is None])
        cursor = body["cursors"]["next"]
        if cursor is None:
            return pages
        assert len(pages) < 20


def read_back(client, sort: str) -> list[list[int]]:
    """From the last page back to the first, following ``previous``."""
    pages, cursor = [], "last"
    while cursor:
        body = client.get(
            "/api/v1/comments", query_string={**A, "sort": sort, "cursor": cursor}
        ).get_json()
        pages.insert(0, [c["id"] for c in body["comments"] if c["parent_id"] is None])
        cursor = body["cursors"]["previous"]
    return pages


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=2)
def test_every_order_paginates_both_ways(app, reader, client) -> None:
    for n in range(1, 6):
        reader.post_json(comment=f"top {n}", email=f"r{n}@example.com")
    reader.post_json(comment="a reply", parent_id=2, email="r9@example.com")  # id 6
    set_likes(app, {1: 2, 2: 5, 3: 2, 4: 0, 5: 9})
    expected = {
        "oldest": [[1, 2], [3, 4], [5]],
        "newest": [[5, 4], [3, 2], [1]],
        # Ties (1 and 3, two likes each) newest first.
        "likes": [[5, 2], [3, 1], [4]],
    }
    for sort, pages in expected.items():
        assert read_all(client, sort) == pages, sort
    assert read_all(client, None) == expected["oldest"]
    # Backwards from the last page: pages fill from the end, in the same order.
    assert read_back(client, "newest") == [[5], [4, 3], [2, 1]]
    assert read_back(client, "likes") == [[5], [2, 3], [1, 4]]
    # The reply comes with its thread, in every order.
    body = client.get("/api/v1/comments", query_string={**A, "sort": "likes"}).get_json()
    assert [c["id"] for c in body["comments"]] == [5, 2, 6]


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=2)
def test_time_cursors_keep_their_meaning_in_newest_order(reader, client) -> None:
    for n in range(1, 4):
        reader.post_json(comment=f"top {n}", email=f"r{n}@example.com")
    body = client.get("/api/v1/comments", query_string={**A, "sort": "newest"}).get_json()
    assert body["sort"] == "newest"
    assert body["cursors"] == {"previous": None, "next": "a2", "older": "a2", "newer": None}


@pytest.mark.settings(MODERATION="none", DEFAULT_SORT="newest")
def test_the_publishers_default_and_the_widget_links(reader, client) -> None:
    for n in range(1, 4):
        reader.post(comment=f"top {n}", email=f"r{n}@example.com")
    page = reader.widget(**A).get_data(as_text=True)
    assert page.index('id="comment-3"') < page.index('id="comment-1"')
    assert 'data-sort="newest" aria-current="true"' in page
    oldest = reader.widget(**A, sort="oldest").get_data(as_text=True)
    assert oldest.index('id="comment-1"') < oldest.index('id="comment-3"')
    # Links inside the widget keep the order chosen.
    assert "sort=oldest" in oldest.split('id="comment-1"')[1].split("</li>")[0]


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=1)
def test_posting_goes_back_to_the_page_of_the_comment_in_that_order(reader) -> None:
    for n in range(1, 4):
        reader.post(comment=f"top {n}", email=f"r{n}@example.com")
    response = reader.post({**A, "sort": "newest"}, comment="newest of all", email="r8@example.com")
    assert response.status_code == 303
    assert "sort=newest" in response.location and "page=" not in response.location
    response = reader.post({**A, "sort": "oldest"}, comment="one more", email="r7@example.com")
    assert "page=a4" in response.location


@pytest.mark.parametrize(
    "params",
    [{"sort": "likes", "cursor": "a12"}, {"sort": "likes", "cursor": "a1.x"}, {"cursor": "a1.2"}],
)
def test_a_cursor_of_another_order_is_a_clear_400(client, params) -> None:
    response = client.get("/api/v1/comments", query_string={**A, **params})
    assert response.status_code == 400 and "first page" in response.get_json()["message"]


def test_an_unknown_sort_falls_back_to_the_default(client) -> None:
    body = client.get("/api/v1/comments", query_string={**A, "sort": "random"}).get_json()
    assert body["sort"] == "oldest"


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=2)
def test_a_readers_held_comment_between_two_pages_is_on_one_of_them(reader, client, admin):
    """Oldest first, a reader's own held comment goes with the thread after it: one that fell
    between the last thread of a page and the first of the next was on neither."""

    def top(text: str, email: str) -> dict:
        return reader.post_json(comment=text, name="N", email=email).get_json()

    for n in range(4):
        top(f"top {n}", f"n{n}@example.com")
    answer = top("my held one", "me@example.com")
    mine, held = answer["mine"], answer["comment"]["id"]
    top("top after", "z@example.com")
    admin.act("unapprove", held)
    pages, cursor = [], None
    while True:
        params = {**A, "mine": mine, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/comments", query_string=params).get_json()
        pages.append([c["id"] for c in body["comments"]])
        cursor = body["cursors"]["next"]
        if cursor is None:
            break
    assert [i for page in pages for i in page] == [1, 2, 3, 4, held, 6]
