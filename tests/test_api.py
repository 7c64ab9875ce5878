"""The JSON API: reading comments (public fields, cursor pages) and posting them."""

from __future__ import annotations

import pytest

A = {"url": "https://news.example/a"}
PUBLIC_FIELDS = {
    "id",
    "parent_id",
    "depth",
    "author",
    "website",
    "body",
    "body_html",
    "created_at",
    "from_site",
    "likes",
    "edited",
    "deleted",
    "removed",
    "featured",
    "avatar",
    "badge",
}


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=2)
def test_read_shape_and_cursor_pagination(reader, client) -> None:
    for n in range(1, 4):
        reader.post_json(comment=f"top {n}", title="Title")
    reader.post_json(comment="reply", parent_id=1)
    first = client.get("/api/v1/comments", query_string=A)
    assert first.status_code == 200
    body = first.get_json()
    assert body["article"] == {"key": "https://news.example/a", "title": "Title", "comments": 4}
    assert [c["id"] for c in body["comments"]] == [1, 4, 2]
    assert all(set(c) == PUBLIC_FIELDS for c in body["comments"])
    assert body["comments"][1]["parent_id"] == 1 and body["comments"][1]["depth"] == 1
    assert body["cursors"] == {"older": None, "newer": "a2", "previous": None, "next": "a2"}
    second = client.get("/api/v1/comments", query_string={**A, "cursor": "a2"}).get_json()
    assert [c["id"] for c in second["comments"]] == [3]
    assert second["cursors"] == {"older": "b3", "newer": None, "previous": "b3", "next": None}
    assert first.headers["Access-Control-Allow-Origin"] == "*"


def test_a_refused_read_is_readable_cross_site_too(client) -> None:
    # Another site's script must be able to read why: "start again from the first page".
    refused = client.get(
        "/api/v1/comments",
        query_string={**A, "cursor": "zzz"},
        headers={"Origin": "https://x.example"},
    )
    assert refused.status_code == 400
    assert refused.headers["Access-Control-Allow-Origin"] == "*"


def test_read_unknown_article_is_empty_not_an_error(client) -> None:
    body = client.get("/api/v1/comments", query_string={"article": "nobody-yet"}).get_json()
    assert body["comments"] == [] and body["article"]["comments"] == 0


def test_read_errors_share_one_shape(client) -> None:
    for params in ({}, {"url": "ftp://x"}, {**A, "cursor": "zz"}):
        response = client.get("/api/v1/comments", query_string=params)
        assert response.status_code == 400
        body = response.get_json()
        assert set(body) == {"error", "message"} and body["message"]
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    wrong_method = client.delete("/api/v1/comments")
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]


def test_post_held_comment_answers_202_with_own_token(reader, client) -> None:
    response = reader.post_json(comment="held via api")
    assert response.status_code == 202
    body = response.get_json()
    assert body["comment"]["awaiting_moderation"] is True
    assert body["comment"]["body"] == "held via api"
    mine = body["mine"]
    own = client.get("/api/v1/comments", query_string={**A, "mine": mine}).get_json()
    assert [c["body"] for c in own["comments"]] == ["held via api"]
    assert client.get("/api/v1/comments", query_string=A).get_json()["comments"] == []


@pytest.mark.settings(MODERATION="none")
def test_post_published_comment_answers_201(reader) -> None:
    response = reader.post_json()
    assert response.status_code == 201
    assert response.get_json()["comment"]["awaiting_moderation"] is False


def test_post_with_a_widget_token_checks_it(reader, comments) -> None:
    token = reader.token(**A)
    assert reader.post_json(token=token).status_code == 202
    bad = reader.post_json(token=token + "x")
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_token"
    assert len(comments()) == 1


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        (
            {"data": "comment=hi", "content_type": "application/x-www-form-urlencoded"},
            400,
            "Content-Type: application/json",
        ),
        ({"data": "{not json", "content_type": "application/json"}, 400, "JSON object"),
        ({"data": "[1, 2]", "content_type": "application/json"}, 400, "JSON object"),
        (
            {"json": {"url": A["url"], "comment": ["a"], "name": "Ann", "email": "a@example.com"}},
            400,
            "must be a string",
        ),
        (
            {"json": {"url": A["url"], "comment": "x", "name": True, "email": "a@example.com"}},
            400,
            "must be a string",
        ),
        (
            {"json": {"comment": "x", "name": "Ann", "email": "a@example.com"}},
            400,
            "Say which article",
        ),
    ],
)
def test_post_malformed_requests_get_a_clear_4xx(client, comments, kwargs, status, message) -> None:
    response = client.post("/api/v1/comments", **kwargs)
    assert response.status_code == status
    assert message in response.get_json()["message"]
    assert comments() == []
