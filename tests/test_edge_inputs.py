"""Inputs at the edges get a clear 4xx (never a 500), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import time

import pytest

A = {"url": "https://news.example/a", "title": "Edges"}


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://[zz]/", "https://a]b/", "https://x/" + "é" * 900]
)
def test_malformed_or_overlong_page_addresses_are_400(client, url) -> None:
    for path in ("/embed", "/api/v1/comments", "/api/v1/counts"):
        assert client.get(path, query_string={"url": url}).status_code == 400, path


@pytest.mark.settings(ALLOWED_ORIGINS=("https://news.example",))
def test_a_garbled_referer_is_simply_not_an_allowed_origin(client) -> None:
    response = client.post(
        "/api/v1/shares",
        data={**A, "network": "x"},
        headers={
            "Referer": "http://[oops/",
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        },
    )
    assert response.status_code == 202


def test_an_article_id_too_long_once_encoded_is_400(client) -> None:
    response = client.get("/embed", query_string={"article": "字" * 1500})
    assert response.status_code == 400


@pytest.mark.parametrize("big", ["2147483648", "999999999999999999"])
def test_ids_beyond_what_can_exist_are_handled(client, reader, comments, big) -> None:
    assert client.get("/embed", query_string={**A, "replytocom": big}).status_code == 200
    assert client.get("/embed", query_string={**A, "page": f"a{big}"}).status_code == 400
    assert (
        client.get("/api/v1/comments", query_string={**A, "cursor": f"b{big}"}).status_code == 400
    )
    assert reader.post_json(parent_id=big).status_code == 400
    assert comments() == []


def test_lone_surrogates_in_json_are_400(client, reader, comments) -> None:
    for field in ("comment", "name", "title", "url"):
        response = reader.post_json(**{field: "x\ud800", "token": "not needed"})
        assert response.status_code == 400, field
    assert comments() == []


def test_a_lone_surrogate_to_preview_is_400(client) -> None:
    response = client.post("/api/v1/preview", json={"comment": "x\ud800"})
    assert response.status_code == 400
    assert "not valid Unicode" in response.get_json()["message"]


# What a JSON body posted to the HTML form's address held, found by fuzzing: each made the
# form's validators (or the token's, or the database's) fail on a value no browser's form
# sends. Only the JSON API reads JSON; for the form it is no submission at all.
JSON_TO_THE_FORM = [
    1,
    "x",
    {"comment": 5},
    {"name": 5},
    {"website": None},
    {"parent_id": 5},
    {"token": True},
    {"comment": "x\ud800"},
    {"name": "x\ud800"},
    {"email": "x\ud800"},
]


@pytest.mark.parametrize("body", JSON_TO_THE_FORM)
def test_a_json_body_posted_to_the_html_form_is_no_submission(client, reader, comments, body):
    if isinstance(body, dict):
        body = {"comment": "A comment", "name": "Ann", "email": "ann@example.com", **body}
        body.setdefault("token", reader.token(**A))
    response = client.post("/embed", query_string=A, json=body)
    assert response.status_code == 400
    assert "Please type your comment" in response.get_data(as_text=True)
    assert comments() == []


@pytest.mark.parametrize("host", ["a" * 64, "a..b"])
@pytest.mark.parametrize("path", ["/embed?url=https://news.example/a", "/admin/sign-in", "/nope"])
def test_a_host_header_werkzeug_cannot_read_is_400(client, host, path) -> None:
    response = client.get(path, headers={"Host": host})
    assert response.status_code == 400
    assert "<h1>Bad Request</h1>" in response.get_data(as_text=True)


def test_widget_error_pages_can_be_shown_inside_the_publishers_iframe(client) -> None:
    response = client.get("/embed", query_string={"url": "ftp://nope"})
    assert response.status_code == 400
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert '<link rel="stylesheet" href="/static/widget.css' in response.get_data(as_text=True)


def test_a_cached_page_expires_before_its_form_token(app, client, monkeypatch) -> None:
    first = client.get("/embed", query_string=A).headers["ETag"]
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + app.config["FORM_MAX_AGE"] / 2 + 1)
    assert client.get("/embed", query_string=A).headers["ETag"] != first


@pytest.mark.settings(MODERATION="none")
def test_the_embedding_pages_title_wins_over_one_stored_by_someone_else(client, reader) -> None:
    # Whoever names an article first (here a share beacon with a made-up title) cannot
    # change what the real page shows.
    client.post(
        "/api/v1/shares",
        data={"url": A["url"], "network": "x", "title": "Totally fake headline"},
        headers={
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Origin": "http://localhost",
        },
    )
    reader.post(A)
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    assert "One Response to “Edges”" in html and "fake" not in html
